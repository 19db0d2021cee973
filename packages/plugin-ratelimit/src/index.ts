export { MemoryRateLimitStore } from './memory-store.js';
export {
  createRateLimitPlugin,
  estimatePromptTokens,
  formatResetDuration,
  type Identity,
  type Limits,
  type RateLimitOptions,
  type RateLimitPlugin,
} from './ratelimit-plugin.js';
export { type FailurePolicy, RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis-store.js';
export {
  type AdmitResult,
  type ConcurrencyRule,
  gcra,
  type RateLimitRule,
  type RateLimitStore,
  type RateRule,
  type RuleOutcome,
  shiftTat,
} from './store.js';
