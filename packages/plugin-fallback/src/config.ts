import { z } from 'zod';

/** One model a group can send a request to. */
export const targetSchema = z.object({
  /** `provider/model`, or anything the gateway resolves (an alias, a bare name). */
  model: z.string().min(1),
  /** Share of traffic under the weighted strategy. */
  weight: z.number().positive().default(1),
  /** Request fields to override for this target, e.g. `{ "temperature": 0.2 }`. */
  params: z.record(z.string(), z.unknown()).optional(),
});

export const strategySchema = z.enum(['weighted', 'least-busy', 'latency', 'cost', 'ordered']);

export const groupSchema = z.object({
  targets: z.array(targetSchema).min(1),
  /** How targets are ordered for each request; later ones are the fallbacks. Default `weighted`. */
  strategy: strategySchema.default('weighted'),
});

/** A routing rule: when every condition given matches, the request goes to `group`. */
export const routeSchema = z.object({
  group: z.string().min(1),
  match: z
    .object({
      /** The requested model name. */
      model: z.string().optional(),
      /** Header values, by lower-case header name, e.g. `{ "x-switchyard-task": "summary" }`. */
      headers: z.record(z.string(), z.string()).optional(),
      /** Values in the request's `metadata`, e.g. `{ "task": "summary" }`. */
      metadata: z.record(z.string(), z.string()).optional(),
      /** Top-level request fields compared by equality, e.g. `{ "stream": true }`. */
      body: z.record(z.string(), z.unknown()).optional(),
    })
    .default({}),
});

export const retrySchema = z.object({
  /** Upstream calls per request, all targets together. */
  maxAttempts: z.number().int().min(1).max(20).default(4),
  /** Calls to one target before moving on, for retryable failures. */
  attemptsPerTarget: z.number().int().min(1).max(10).default(2),
  /** Backoff base: the n-th retry waits a random time in [0, min(maxDelayMs, baseDelayMs × 2ⁿ)]. */
  baseDelayMs: z.number().int().min(0).default(200),
  maxDelayMs: z.number().int().min(0).default(8_000),
  /** A `retry-after` longer than this is not waited for: the next target is tried instead. */
  maxRetryAfterMs: z.number().int().min(0).default(30_000),
  /** Total time for all attempts of one request. */
  deadlineMs: z.number().int().positive().default(300_000),
});

export const timeoutSchema = z.object({
  /** Time to the first chunk of a stream, or to the whole answer of a JSON request. */
  firstByteMs: z.number().int().positive().optional(),
  /** Time for a whole attempt, stream included. */
  totalMs: z.number().int().positive().optional(),
});

export const breakerSchema = z.object({
  /** Consecutive failures that open the breaker. */
  consecutiveFailures: z.number().int().min(1).default(5),
  /** Failure ratio over the window that opens it, once `minimumCalls` were seen. */
  failureRatio: z.number().min(0).max(1).default(0.5),
  minimumCalls: z.number().int().min(1).default(20),
  windowMs: z.number().int().positive().default(60_000),
  /** How long an open breaker rejects before letting one probe through. */
  cooldownMs: z.number().int().positive().default(30_000),
});

export const fallbackConfigSchema = z.object({
  groups: z.record(z.string(), groupSchema).default({}),
  routes: z.array(routeSchema).default([]),
  retry: retrySchema.default(retrySchema.parse({})),
  timeouts: timeoutSchema.default({}),
  breaker: breakerSchema.default(breakerSchema.parse({})),
  /** Move to a target with a larger context window when the prompt is too long. Default true. */
  contextWindowFallback: z.boolean().default(true),
  /** Move to the next target when a provider refuses on content policy. Default false. */
  contentPolicyFallback: z.boolean().default(false),
  /** Honour the request body's `models: [...]` list (OpenRouter style). Default true. */
  allowRequestModels: z.boolean().default(true),
});

export type FallbackConfigInput = z.input<typeof fallbackConfigSchema>;
export type FallbackConfig = z.output<typeof fallbackConfigSchema>;
export type GroupConfig = z.output<typeof groupSchema>;
export type TargetConfig = z.output<typeof targetSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type Strategy = z.output<typeof strategySchema>;

/** Thrown for an invalid configuration; `path` names the bad field, e.g. `groups.smart.targets[0].weight`. */
export class FallbackConfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`Invalid fallback configuration at '${path}': ${message}`);
    this.name = 'FallbackConfigError';
    this.path = path;
  }
}

export function parseFallbackConfig(input: unknown): FallbackConfig {
  const result = fallbackConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`)).join('');
    throw new FallbackConfigError(path || '(root)', issue.message);
  }
  const config = result.data;
  for (const [index, route] of config.routes.entries()) {
    if (!config.groups[route.group]) throw new FallbackConfigError(`routes[${index}].group`, `no group named '${route.group}'`);
  }
  return config;
}
