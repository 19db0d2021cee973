export { type FailureKind, classifyFailure } from './classify-failure.js';
export { type BreakerOptions, type BreakerState, CircuitBreaker } from './circuit-breaker.js';
export {
  type FallbackConfig,
  FallbackConfigError,
  type FallbackConfigInput,
  fallbackConfigSchema,
  type GroupConfig,
  parseFallbackConfig,
  type RouteConfig,
  type Strategy,
  type TargetConfig,
} from './config.js';
export { createFallbackPlugin, type FallbackOptions, type FallbackPlan, type FallbackPlugin, type ModelFacts } from './fallback-plugin.js';
export { type Candidate, orderCandidates } from './strategies.js';
export { HealthRegistry, TargetHealth } from './target-health.js';
