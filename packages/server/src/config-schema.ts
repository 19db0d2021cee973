import { fallbackConfigSchema } from '@switchyard/plugin-fallback';
import { z } from 'zod';

/*
 * The whole gateway in one document: where it listens, which providers it serves, model aliases,
 * routing and fallback, rate limits, caching, observability, billing and cluster mode. A file
 * (`SWITCHYARD_CONFIG=gateway.yaml`) and the environment variables both produce this shape; see
 * environment.ts for how the two are merged.
 *
 * Objects are strict: an unknown field is almost always a typo (`apikey`), and silently ignoring it
 * would start a gateway that does not do what its operator wrote.
 */

/** Turns text produced by `${VAR}` interpolation into a number; the YAML parser already types literal numbers. */
function numeric(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
}

function boolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return value;
}

const integer = (minimum: number, maximum = Number.MAX_SAFE_INTEGER) => z.preprocess(numeric, z.number().int().min(minimum).max(maximum));
const fraction = () => z.preprocess(numeric, z.number().gt(0).max(1));
const flag = () => z.preprocess(boolean, z.boolean());
const text = () => z.string().min(1, 'must not be empty');
const httpUrl = () =>
  text().refine((value) => {
    try {
      const protocol = new URL(value).protocol;
      return protocol === 'http:' || protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');
const redisUrl = () => text().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL');
/** Provider ids are the `provider/` prefix of model names, so they cannot hold a slash. */
const providerId = () => text().regex(/^[A-Za-z0-9][\w.-]*$/, 'must be letters, digits, dots, dashes or underscores (it is the model prefix: `<id>/<model>`)');
const stringList = () => z.array(text());
const headers = () => z.record(z.string(), z.string());

/** Settings every HTTP provider accepts: extra headers, bare-name prefixes and the connection. */
const httpProviderFields = {
  headers: headers().optional(),
  modelPrefixes: z.array(z.string()).optional(),
  /** Time to open a connection. */
  connectTimeoutMs: integer(1).optional(),
  /** Time to the response headers. */
  firstByteTimeoutMs: integer(1).optional(),
  /** Longest pause between two chunks of a body. */
  idleTimeoutMs: integer(1).optional(),
  /** Connections kept open to the upstream. */
  connections: integer(1).optional(),
};

/** OpenAI-compatible hosts with a preset base URL and model prefixes; each needs its API key. */
export const presetProviderTypes = ['openai', 'deepseek', 'groq', 'mistral', 'xai', 'dashscope', 'openrouter', 'together'] as const;
export type PresetProviderType = (typeof presetProviderTypes)[number];

const presetProviderSchema = z.strictObject({
  type: z.enum(presetProviderTypes),
  id: providerId().optional(),
  apiKey: text(),
  baseURL: httpUrl().optional(),
  models: stringList().optional(),
  streamUsage: flag().optional(),
  ...httpProviderFields,
});

const ollamaProviderSchema = z.strictObject({
  type: z.literal('ollama'),
  id: providerId().optional(),
  /** Ollama runs without authentication; a key is sent only when a proxy in front of it wants one. */
  apiKey: text().optional(),
  baseURL: httpUrl().optional(),
  models: stringList().optional(),
  ...httpProviderFields,
});

const compatibleProviderSchema = z.strictObject({
  type: z.literal('openai-compatible'),
  /** Required: there is no preset to name it after. */
  id: providerId(),
  baseURL: httpUrl(),
  apiKey: text().optional(),
  models: stringList().optional(),
  streamUsage: flag().optional(),
  /** The provider id under which the model catalog knows this server's models. */
  catalogProvider: text().optional(),
  ...httpProviderFields,
});

const anthropicProviderSchema = z.strictObject({
  type: z.literal('anthropic'),
  id: providerId().optional(),
  apiKey: text(),
  baseURL: httpUrl().optional(),
  models: stringList().optional(),
  /** The `anthropic-version` header. */
  version: text().optional(),
  /** Output tokens asked for when a request sets no limit (Anthropic requires one). */
  defaultMaxTokens: integer(1).optional(),
  ...httpProviderFields,
});

const geminiProviderSchema = z.strictObject({
  type: z.literal('gemini'),
  id: providerId().optional(),
  apiKey: text(),
  baseURL: httpUrl().optional(),
  models: stringList().optional(),
  ...httpProviderFields,
});

const azureProviderSchema = z
  .strictObject({
    type: z.literal('azure'),
    id: providerId().optional(),
    /** Sent as `api-key`; leave out only when `headers.authorization` carries an Entra ID token. */
    apiKey: text().optional(),
    /** `https://<resource>.openai.azure.com`. */
    endpoint: httpUrl().optional(),
    /** Shorthand for `endpoint: https://<resourceName>.openai.azure.com`. */
    resourceName: text().optional(),
    /** The `api-version` query parameter, or `v1` for Azure's version-less API. */
    apiVersion: text().optional(),
    /** Deployment names, listed by `/v1/models` (Azure's data plane cannot list them). */
    deployments: stringList().optional(),
    streamUsage: flag().optional(),
    ...httpProviderFields,
  })
  .superRefine((provider, context) => {
    if (!provider.endpoint && !provider.resourceName) {
      context.addIssue({ code: 'custom', path: ['endpoint'], message: 'is required (https://<resource>.openai.azure.com), or give resourceName' });
    }
    const hasAuthorization = Object.keys(provider.headers ?? {}).some((name) => name.toLowerCase() === 'authorization');
    if (!provider.apiKey && !hasAuthorization) {
      context.addIssue({ code: 'custom', path: ['apiKey'], message: 'is required (or an authorization header with an Entra ID token)' });
    }
  });

const echoProviderSchema = z.strictObject({
  type: z.literal('echo'),
  /** Default `demo`: the model is `demo/echo`. */
  id: providerId().optional(),
  /** Pause between streamed words, to make streaming visible. */
  chunkDelayMs: integer(0).optional(),
});

export const providerSchema = z.discriminatedUnion('type', [
  presetProviderSchema,
  ollamaProviderSchema,
  compatibleProviderSchema,
  anthropicProviderSchema,
  geminiProviderSchema,
  azureProviderSchema,
  echoProviderSchema,
]);
export type ProviderConfig = z.output<typeof providerSchema>;
export type ProviderType = ProviderConfig['type'];
export const providerTypes: readonly ProviderType[] = [...presetProviderTypes, 'ollama', 'openai-compatible', 'anthropic', 'gemini', 'azure', 'echo'];

/** The id a provider gets when its entry names none: the model prefix clients use. */
export function defaultProviderId(type: ProviderType): string {
  return type === 'echo' ? 'demo' : type;
}

/** The provider's id as the gateway will register it. */
export function providerIdOf(provider: { type: ProviderType; id?: string | undefined }): string {
  return provider.id ?? defaultProviderId(provider.type);
}

const corsSchema = z.strictObject({
  /** Allowed browser origins, or `*` for any. */
  origins: z.union([z.literal('*'), stringList()]),
  credentials: flag().default(false),
  maxAgeSeconds: integer(0).optional(),
});

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const serverSchema = z.strictObject({
  host: text().default('127.0.0.1'),
  port: integer(0, 65_535).default(8787),
  /** Largest request body; larger ones get a 413. Default 4 MiB. */
  bodyLimitBytes: integer(1).optional(),
  /** Trust `x-forwarded-for` for the client IP: only behind a proxy you run. */
  trustProxy: flag().default(false),
  /** How long shutdown waits for in-flight requests and streams before cutting them. */
  drainTimeoutMs: integer(0).default(10_000),
  logLevel: z.enum(logLevels).default('info'),
  /** Cross-origin access for browser clients; off unless given. */
  cors: corsSchema.optional(),
});

const limitsSchema = z.strictObject({
  rpm: integer(1).optional(),
  tpm: integer(1).optional(),
  maxConcurrency: integer(1).optional(),
});

const rateLimitSchema = z
  .strictObject({
    /** `memory` (one process) or `redis` (shared by every worker and instance). Default: `redis` when a Redis URL is known. */
    store: z.enum(['memory', 'redis']).optional(),
    redisUrl: redisUrl().optional(),
    /** With Redis unreachable: `open` lets requests through, `closed` refuses them. */
    failurePolicy: z.enum(['open', 'closed']).optional(),
    /** Limits for virtual keys that set none of their own. */
    defaults: limitsSchema.optional(),
    /** Limits per client IP for requests without a key. */
    anonymous: limitsSchema.optional(),
    /** Extra limits per key × model, by `provider/model`. */
    models: z.record(text(), limitsSchema.omit({ maxConcurrency: true })).optional(),
    /** Output tokens assumed at admission when a request sets no `max_tokens`. */
    defaultOutputTokens: integer(1).optional(),
  })
  .superRefine((rateLimit, context) => {
    if (rateLimit.store === 'redis' && !rateLimit.redisUrl) {
      context.addIssue({ code: 'custom', path: ['redisUrl'], message: 'is required when store is redis (or set REDIS_URL)' });
    }
  });

const semanticSchema = z.strictObject({
  enabled: flag().default(false),
  /** `local` (built in, no network) or an embedding model this gateway serves, `provider/model`. */
  embedder: text().default('local'),
  /** Cosine similarity at or above which a stored answer is served. Default 0.8 local, 0.92 with a provider model. */
  threshold: fraction().optional(),
  maxEntries: integer(1).optional(),
});

const cacheSchema = z
  .strictObject({
    store: z.enum(['off', 'memory', 'redis']).default('memory'),
    redisUrl: redisUrl().optional(),
    /** How long answers are kept. */
    ttlSeconds: integer(1).default(3_600),
    /** The longest `x-switchyard-cache-ttl` a request may ask for. */
    maxTtlSeconds: integer(1).optional(),
    /** Share one upstream call between identical requests in flight. */
    coalesce: flag().default(true),
    /** A header naming the tenant when there are no virtual keys, e.g. `x-tenant-id`. */
    scopeHeader: text().optional(),
    semantic: semanticSchema.prefault({}),
  })
  .superRefine((cache, context) => {
    if (cache.store === 'redis' && !cache.redisUrl) {
      context.addIssue({ code: 'custom', path: ['redisUrl'], message: 'is required when store is redis (or set REDIS_URL)' });
    }
    if (cache.maxTtlSeconds !== undefined && cache.maxTtlSeconds < cache.ttlSeconds) {
      context.addIssue({ code: 'custom', path: ['maxTtlSeconds'], message: `must be at least ttlSeconds (${cache.ttlSeconds})` });
    }
  });

const observabilitySchema = z.strictObject({
  /** Where Prometheus metrics are served; `false` serves none. */
  metricsPath: z.union([z.literal(false), text().regex(/^\//, 'must start with /')]).default('/metrics'),
  /** Put prompt and answer text in the request log. Off: prompts are the users' data. */
  logContent: flag().default(false),
  /** One log line per request. */
  requestLog: flag().default(true),
});

const configuredPriceSchema = z.strictObject({
  input_per_million: z.preprocess(numeric, z.number().min(0)),
  output_per_million: z.preprocess(numeric, z.number().min(0)),
  cache_read_per_million: z.preprocess(numeric, z.number().min(0)).optional(),
  cache_write_per_million: z.preprocess(numeric, z.number().min(0)).optional(),
  reasoning_per_million: z.preprocess(numeric, z.number().min(0)).optional(),
  max_output_tokens: integer(1).optional(),
});

const billingSchema = z.strictObject({
  /** The admin secret for `/admin/*`; with it, requests need a virtual key. */
  masterKey: text().optional(),
  /** PostgreSQL for keys and the ledger, shared by every worker and instance. */
  databaseUrl: text().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  /** The embedded store's directory (`memory://` for a throwaway one); relative to the config file. */
  dataDir: text().optional(),
  /** Database schema of the billing tables. Default `switchyard`. */
  schema: text().optional(),
  /** Where ledger rows unwritable at shutdown are saved and replayed from. */
  spillDir: text().optional(),
  /** Per-model prices in dollars per million tokens, by `provider/model` or bare model id. */
  prices: z.record(text(), configuredPriceSchema).default({}),
  /** Bill models without a configured price at the list price in the providers' model catalog. */
  catalogPrices: flag().default(true),
  /** LiteLLM `model_prices_and_context_window.json` files, relative to the config file. */
  litellmPrices: z.union([text(), stringList()]).optional(),
  /** Output tokens assumed at admission when neither the request nor the price sets a limit. */
  defaultMaxOutputTokens: integer(1).optional(),
  /** Serve requests without a virtual key. Default: only when there is no master key. */
  allowAnonymous: flag().optional(),
  /** `reject-budgeted` (default): keys with a budget cannot use unpriced models; `free`: anyone can, at no cost. */
  unpricedModels: z.enum(['reject-budgeted', 'free']).optional(),
});

const clusterSchema = z.strictObject({
  /** Worker processes serving the same port: a number, or `auto` for one per CPU core. */
  workers: z.union([z.literal('auto'), integer(1, 1_024)]).default(1),
});

const aliasesSchema = z.record(text(), text());

export const gatewayConfigSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    providers: z.array(providerSchema).default([]),
    /** Extra model names: `fast: openai/gpt-4o-mini`. */
    aliases: aliasesSchema.default({}),
    /** Groups, routing rules, retries, timeouts and circuit breakers (see @switchyard/plugin-fallback). */
    fallback: fallbackConfigSchema.prefault({}),
    rateLimit: rateLimitSchema.prefault({}),
    cache: cacheSchema.prefault({}),
    observability: observabilitySchema.prefault({}),
    billing: billingSchema.prefault({}),
    cluster: clusterSchema.prefault({}),
  })
  .superRefine((config, context) => {
    const seen = new Map<string, number>();
    config.providers.forEach((provider, index) => {
      const id = providerIdOf(provider);
      const first = seen.get(id);
      if (first !== undefined) {
        context.addIssue({ code: 'custom', path: ['providers', index, 'id'], message: `'${id}' is already the id of providers[${first}]; give one of them another id` });
      } else {
        seen.set(id, index);
      }
    });
    config.fallback.routes.forEach((route, index) => {
      if (!Object.hasOwn(config.fallback.groups, route.group)) {
        context.addIssue({ code: 'custom', path: ['fallback', 'routes', index, 'group'], message: `no group named '${route.group}'` });
      }
    });
  });

/** What a config file (or the environment) says, before defaults. */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** The validated configuration with every default filled in. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

export interface ConfigIssue {
  /** Where the bad value is: `providers[1].apiKey`, or an environment variable's name. */
  path: string;
  message: string;
}

/** An invalid configuration; `issues` lists every bad field with its path. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source ? ` (${source})` : '';
    super(`Invalid configuration${where}:\n${issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `providers[1].apiKey`: the way a reader finds the field in the file. */
export function formatConfigPath(path: ReadonlyArray<PropertyKey>): string {
  let result = '';
  for (const segment of path) {
    if (typeof segment === 'number') result += `[${segment}]`;
    else result += result === '' ? String(segment) : `.${String(segment)}`;
  }
  return result === '' ? '(root)' : result;
}

/** Edit distance, to suggest the field a typo meant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known field a mistyped one most likely meant: same letters ignoring case and separators, or two edits away. */
export function suggestField(unknown: string, known: readonly string[]): string | undefined {
  const simplify = (name: string) => name.toLowerCase().replace(/[-_]/g, '');
  const exact = known.find((name) => simplify(name) === simplify(unknown));
  if (exact) return exact;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(simplify(unknown), simplify(name));
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** The schema under optional, default and preprocess wrappers. */
function unwrapSchema(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) current = current.unwrap();
    // A preprocess is a pipe from the transform into the real schema.
    else if (current instanceof z.ZodPipe) current = current.out;
    else return current;
  }
}

/** The object schema a (possibly discriminated) schema applies to `value`, if any. */
function objectFor(schema: z.core.$ZodType, value: unknown): z.ZodObject | undefined {
  const unwrapped = unwrapSchema(schema);
  if (unwrapped instanceof z.ZodObject) return unwrapped;
  if (unwrapped instanceof z.ZodDiscriminatedUnion) {
    const kind = (value as { type?: unknown } | undefined)?.type;
    for (const option of unwrapped.options) {
      const object = objectFor(option, value);
      if (object?.shape.type?.safeParse(kind).success) return object;
    }
  }
  return undefined;
}

/** The fields of the object schema at `path` in the configuration, for suggestions. */
function knownFieldsAt(path: ReadonlyArray<PropertyKey>, input: unknown): string[] {
  let schema: z.core.$ZodType | undefined = gatewayConfigSchema;
  let value = input;
  for (const segment of path) {
    const unwrapped: z.core.$ZodType = unwrapSchema(schema);
    if (unwrapped instanceof z.ZodArray) schema = unwrapped.element;
    else if (unwrapped instanceof z.ZodRecord) schema = unwrapped.valueType;
    else schema = objectFor(unwrapped, value)?.shape[String(segment)];
    if (!schema) return [];
    value = (value as Record<PropertyKey, unknown> | undefined)?.[segment];
  }
  return Object.keys(objectFor(schema, value)?.shape ?? {});
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = input;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function describeIssues(issue: z.core.$ZodIssue, input: unknown): ConfigIssue[] {
  const path = issue.path;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownFieldsAt(path, input);
      return issue.keys.map((key) => {
        const suggestion = suggestField(key, known);
        return { path: formatConfigPath([...path, key]), message: `unknown field${suggestion ? ` (did you mean '${suggestion}'?)` : ''}` };
      });
    }
    case 'invalid_union':
      if ((issue as { note?: string }).note === 'No matching discriminator') {
        const options = (issue as { options?: unknown[] }).options ?? [];
        const given = valueAt(input, path);
        return [{ path: formatConfigPath(path), message: given === undefined ? `is required: one of ${options.join(', ')}` : `'${String(given)}' is not one of ${options.join(', ')}` }];
      }
      return [{ path: formatConfigPath(path), message: issue.message }];
    case 'invalid_type': {
      const given = valueAt(input, path);
      if (given === undefined) return [{ path: formatConfigPath(path), message: 'is required' }];
      const expected = issue.expected === 'number' || issue.expected === 'int' ? 'a number' : issue.expected === 'boolean' ? 'true or false' : issue.expected === 'array' ? 'a list' : issue.expected === 'object' || issue.expected === 'record' || issue.expected === 'map' ? 'a mapping' : `a ${issue.expected}`;
      // Numbers and flags are never secrets, so the text written in their place can be shown; other values are described by type only.
      const shown =
        typeof given === 'string' && (issue.expected === 'number' || issue.expected === 'int' || issue.expected === 'boolean') && given.length <= 40
          ? `'${given}'`
          : Array.isArray(given)
            ? 'a list'
            : given === null
              ? 'null'
              : typeof given === 'object'
                ? 'a mapping'
                : `a ${typeof given}`;
      return [{ path: formatConfigPath(path), message: `expected ${expected}, got ${shown}` }];
    }
    case 'invalid_value': {
      const given = valueAt(input, path);
      const options = issue.values.map((value) => String(value)).join(', ');
      return [{ path: formatConfigPath(path), message: given === undefined ? `is required: one of ${options}` : `'${String(given)}' is not one of ${options}` }];
    }
    case 'too_small':
      if (issue.origin === 'number' || issue.origin === 'int') {
        return [{ path: formatConfigPath(path), message: issue.inclusive === false ? `must be greater than ${String(issue.minimum)}` : `must be at least ${String(issue.minimum)}` }];
      }
      return [{ path: formatConfigPath(path), message: issue.message }];
    case 'too_big':
      if (issue.origin === 'number' || issue.origin === 'int') {
        return [{ path: formatConfigPath(path), message: issue.inclusive === false ? `must be less than ${String(issue.maximum)}` : `must be at most ${String(issue.maximum)}` }];
      }
      return [{ path: formatConfigPath(path), message: issue.message }];
    default:
      return [{ path: formatConfigPath(path), message: issue.message }];
  }
}

/**
 * Fields no schema knows, below a schema that ignores them: the fallback plugin's schema strips unknown
 * fields, and a misspelt `grups` or `wieght` would otherwise quietly route differently than written.
 */
function unknownFields(schema: z.core.$ZodType, value: unknown, path: PropertyKey[]): ConfigIssue[] {
  const unwrapped = unwrapSchema(schema);
  if (unwrapped instanceof z.ZodArray) {
    return Array.isArray(value) ? value.flatMap((item, index) => unknownFields(unwrapped.element, item, [...path, index])) : [];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  if (unwrapped instanceof z.ZodRecord) {
    return Object.entries(value).flatMap(([key, item]) => unknownFields(unwrapped.valueType, item, [...path, key]));
  }
  const object = objectFor(unwrapped, value);
  if (!object) return [];
  const known = Object.keys(object.shape);
  return Object.entries(value).flatMap(([key, item]) => {
    const field = object.shape[key];
    if (field) return unknownFields(field, item, [...path, key]);
    const suggestion = suggestField(key, known);
    return [{ path: formatConfigPath([...path, key]), message: `unknown field${suggestion ? ` (did you mean '${suggestion}'?)` : ''}` }];
  });
}

/** Validates a configuration object (already interpolated); throws ConfigError naming every bad field. */
export function parseGatewayConfig(input: unknown, source?: string): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(input ?? {});
  const fallback = (input as { fallback?: unknown } | null | undefined)?.fallback;
  const issues = [...(result.success ? [] : result.error.issues.flatMap((issue) => describeIssues(issue, input))), ...unknownFields(fallbackConfigSchema, fallback, ['fallback'])];
  if (result.success && issues.length === 0) return result.data;
  throw new ConfigError(issues, source);
}
