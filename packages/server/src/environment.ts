import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Environment, readConfigFile } from './config-file.js';
import {
  type ConfigIssue,
  ConfigError,
  type GatewayConfig,
  logLevels,
  parseGatewayConfig,
  type PresetProviderType,
  providerIdOf,
  type ProviderType,
} from './config-schema.js';

/** Environment variable prefix of each OpenAI-compatible host: `DEEPSEEK_API_KEY`, `DEEPSEEK_BASE_URL`. */
export const presetVariablePrefixes: ReadonlyArray<[PresetProviderType, string]> = [
  ['openai', 'OPENAI'],
  ['deepseek', 'DEEPSEEK'],
  ['groq', 'GROQ'],
  ['mistral', 'MISTRAL'],
  ['xai', 'XAI'],
  ['dashscope', 'DASHSCOPE'],
  ['openrouter', 'OPENROUTER'],
  ['together', 'TOGETHER'],
];

type RawConfig = Record<string, unknown>;
type RawProvider = Record<string, unknown> & { type: ProviderType; id?: string };

/** Reads environment variables with errors that name the variable, collected so all are reported at once. */
class VariableReader {
  readonly issues: ConfigIssue[] = [];
  readonly #environment: Environment;

  constructor(environment: Environment) {
    this.#environment = environment;
  }

  /** The value, or undefined when unset or empty: `FOO=` in a shell or a compose file means "not set". */
  text(name: string): string | undefined {
    const value = this.#environment[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  }

  integer(name: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const number = Number(value.trim());
    if (!Number.isInteger(number) || number < minimum || number > maximum) {
      this.issues.push({ path: name, message: `must be an integer from ${minimum}${maximum === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${maximum}`}, got '${value}'` });
      return undefined;
    }
    return number;
  }

  fraction(name: string): number | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const number = Number(value.trim());
    if (!Number.isFinite(number) || number <= 0 || number > 1) {
      this.issues.push({ path: name, message: `must be a number above 0 and at most 1, got '${value}'` });
      return undefined;
    }
    return number;
  }

  flag(name: string): boolean | undefined {
    const value = this.text(name)?.trim().toLowerCase();
    if (value === undefined) return undefined;
    if (['on', 'true', '1', 'yes'].includes(value)) return true;
    if (['off', 'false', '0', 'no'].includes(value)) return false;
    this.issues.push({ path: name, message: `must be on or off, got '${this.text(name)}'` });
    return undefined;
  }

  choice<T extends string>(name: string, options: readonly T[]): T | undefined {
    const value = this.text(name)?.trim();
    if (value === undefined) return undefined;
    if ((options as readonly string[]).includes(value)) return value as T;
    this.issues.push({ path: name, message: `'${value}' is not one of ${options.join(', ')}` });
    return undefined;
  }

  list(name: string): string[] | undefined {
    const value = this.text(name);
    if (value === undefined) return undefined;
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    return items.length > 0 ? items : undefined;
  }
}

/** Drops undefined fields and empty sections, so that "not set" is absent and the file's value or the default applies. */
function compact(value: Record<string, unknown>): Record<string, unknown> | undefined {
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const kept = item !== null && typeof item === 'object' && !Array.isArray(item) ? compact(item as Record<string, unknown>) : item;
    if (kept !== undefined) result[key] = kept;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

/** The providers the environment enables; each is enabled by its key (Ollama by its base URL). */
function providersFromEnvironment(read: VariableReader): RawProvider[] {
  const providers: RawProvider[] = [];
  for (const [type, prefix] of presetVariablePrefixes) {
    const apiKey = read.text(`${prefix}_API_KEY`);
    if (!apiKey) continue;
    providers.push({ type, apiKey, ...(read.text(`${prefix}_BASE_URL`) ? { baseURL: read.text(`${prefix}_BASE_URL`) } : {}) });
  }
  // Ollama runs locally without a key: its base URL is what enables it.
  const ollama = read.text('OLLAMA_BASE_URL');
  if (ollama) providers.push({ type: 'ollama', baseURL: ollama });
  const azureKey = read.text('AZURE_OPENAI_API_KEY');
  if (azureKey) {
    // A missing endpoint is reported by loadConfig: a config file may define it for this key.
    const endpoint = read.text('AZURE_OPENAI_ENDPOINT');
    providers.push(
      compact({
        type: 'azure',
        apiKey: azureKey,
        endpoint,
        apiVersion: read.text('AZURE_OPENAI_API_VERSION'),
        // Azure cannot list deployments on its data plane: they are named for /v1/models.
        deployments: read.list('AZURE_OPENAI_DEPLOYMENTS'),
      }) as RawProvider,
    );
  }
  const anthropicKey = read.text('ANTHROPIC_API_KEY');
  if (anthropicKey) providers.push(compact({ type: 'anthropic', apiKey: anthropicKey, baseURL: read.text('ANTHROPIC_BASE_URL') }) as RawProvider);
  const geminiKey = read.text('GEMINI_API_KEY');
  if (geminiKey) providers.push(compact({ type: 'gemini', apiKey: geminiKey, baseURL: read.text('GEMINI_BASE_URL') }) as RawProvider);
  return providers;
}

/**
 * The configuration the environment variables describe, in the config file's shape (before defaults).
 * Throws ConfigError naming each bad variable.
 */
export function configInputFromEnvironment(environment: Environment = process.env): RawConfig {
  const read = new VariableReader(environment);
  const redisUrl = read.text('REDIS_URL');
  const corsOrigins = read.text('SWITCHYARD_CORS_ORIGINS')?.trim() === '*' ? '*' : read.list('SWITCHYARD_CORS_ORIGINS');
  const workers = read.text('SWITCHYARD_WORKERS')?.trim() === 'auto' ? 'auto' : read.integer('SWITCHYARD_WORKERS', 1, 1_024);
  const semanticEnabled = read.flag('SWITCHYARD_SEMANTIC_CACHE');
  const limits = compact({
    rpm: read.integer('SWITCHYARD_RATE_LIMIT_RPM', 1),
    tpm: read.integer('SWITCHYARD_RATE_LIMIT_TPM', 1),
    maxConcurrency: read.integer('SWITCHYARD_RATE_LIMIT_CONCURRENCY', 1),
  });
  const config: RawConfig = {
    server: {
      host: read.text('HOST'),
      port: read.integer('PORT', 0, 65_535),
      logLevel: read.choice('LOG_LEVEL', logLevels),
      drainTimeoutMs: read.integer('SWITCHYARD_DRAIN_TIMEOUT_MS', 0),
      trustProxy: read.flag('SWITCHYARD_TRUST_PROXY'),
      cors: corsOrigins ? { origins: corsOrigins } : undefined,
    },
    providers: providersFromEnvironment(read),
    rateLimit: {
      store: read.choice('SWITCHYARD_RATE_LIMIT_STORE', ['memory', 'redis'] as const),
      redisUrl,
      failurePolicy: read.choice('SWITCHYARD_RATE_LIMIT_FAILURE_POLICY', ['open', 'closed'] as const),
      // Without virtual keys every caller is anonymous, so the same limits apply per client IP.
      defaults: limits,
      anonymous: limits,
    },
    cache: {
      store: read.choice('SWITCHYARD_CACHE', ['off', 'memory', 'redis'] as const),
      redisUrl,
      ttlSeconds: read.integer('SWITCHYARD_CACHE_TTL_SECONDS', 1),
      semantic: {
        enabled: semanticEnabled,
        threshold: read.fraction('SWITCHYARD_SEMANTIC_THRESHOLD'),
        embedder: read.text('SWITCHYARD_EMBEDDING_MODEL')?.trim(),
      },
    },
    billing: {
      masterKey: read.text('SWITCHYARD_MASTER_KEY'),
      databaseUrl: read.text('DATABASE_URL'),
      dataDir: read.text('SWITCHYARD_DATA_DIR'),
      schema: read.text('SWITCHYARD_BILLING_SCHEMA'),
      spillDir: read.text('SWITCHYARD_SPILL_DIR'),
    },
    cluster: { workers },
  };
  if (read.issues.length > 0) throw new ConfigError(read.issues, 'environment variables');
  const providers = config.providers as RawProvider[];
  const result = compact({ ...config, providers: undefined }) ?? {};
  if (providers.length > 0) result.providers = providers;
  return result;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `primary` wins; `secondary` fills in what it leaves unset, mappings recursively, lists whole. */
function fillIn(primary: unknown, secondary: unknown): unknown {
  if (primary === undefined) return secondary;
  if (isMapping(primary) && isMapping(secondary)) {
    const result: Record<string, unknown> = { ...primary };
    for (const [key, value] of Object.entries(secondary)) result[key] = fillIn(primary[key], value);
    return result;
  }
  return primary;
}

function rawProviderId(provider: unknown): string | undefined {
  if (!isMapping(provider) || typeof provider.type !== 'string') return undefined;
  return providerIdOf({ type: provider.type as ProviderType, id: typeof provider.id === 'string' ? provider.id : undefined });
}

/**
 * Merges the config file with the environment: the file wins, the environment fills in what it leaves
 * unset. Providers are matched by id: one the file defines takes unset fields (a key, say) from the
 * environment's provider of the same id and type; one only the environment enables is added after the
 * file's.
 */
export function mergeConfigInputs(file: RawConfig, fromEnvironment: RawConfig): RawConfig {
  const merged = fillIn(file, fromEnvironment) as RawConfig;
  const fileProviders = file.providers;
  const environmentProviders = (fromEnvironment.providers ?? []) as RawProvider[];
  if (!Array.isArray(fileProviders)) {
    // A malformed `providers` is left for validation to report; the environment cannot fix it.
    if (fileProviders !== undefined) merged.providers = fileProviders;
    return merged;
  }
  const byId = new Map(environmentProviders.map((provider) => [rawProviderId(provider)!, provider]));
  const used = new Set<string>();
  merged.providers = [
    ...fileProviders.map((provider: unknown) => {
      const id = rawProviderId(provider);
      if (id === undefined) return provider;
      used.add(id);
      const fromEnv = byId.get(id);
      return fromEnv && isMapping(provider) && fromEnv.type === provider.type ? fillIn(provider, fromEnv) : provider;
    }),
    ...environmentProviders.filter((provider) => !used.has(rawProviderId(provider)!)),
  ];
  return merged;
}

/** Paths written in a config file are relative to the file, so it works from any working directory. */
function resolveFilePaths(file: RawConfig, configPath: string): RawConfig {
  const billing = file.billing;
  if (!isMapping(billing)) return file;
  const base = dirname(resolve(configPath));
  const resolvePath = (value: unknown) => (typeof value === 'string' && value !== '' && !value.includes('://') && !isAbsolute(value) ? resolve(base, value) : value);
  const resolved: Record<string, unknown> = { ...billing };
  for (const key of ['dataDir', 'spillDir']) if (key in resolved) resolved[key] = resolvePath(resolved[key]);
  if (typeof resolved.litellmPrices === 'string') resolved.litellmPrices = resolvePath(resolved.litellmPrices);
  else if (Array.isArray(resolved.litellmPrices)) resolved.litellmPrices = resolved.litellmPrices.map(resolvePath);
  return { ...file, billing: resolved };
}

/** Settings from the command line: they win over both the file and the environment. */
export interface ConfigOverrides {
  /** A config file; default `SWITCHYARD_CONFIG`. */
  configPath?: string;
  host?: string;
  port?: number;
  workers?: number | 'auto';
}

export interface LoadedConfig {
  config: GatewayConfig;
  /** The file read, if any. */
  configPath: string | undefined;
  /** Ids of the providers enabled by environment variables rather than the file. */
  providersFromEnvironment: string[];
}

/**
 * The gateway's configuration: the file named by `--config` or `SWITCHYARD_CONFIG` (with `${VAR}`
 * interpolation), environment variables filling in what it leaves unset, command-line overrides on top.
 * Throws ConfigError naming every bad field or variable.
 */
export function loadConfig(environment: Environment = process.env, overrides: ConfigOverrides = {}): LoadedConfig {
  const configPath = overrides.configPath ?? (environment.SWITCHYARD_CONFIG?.trim() || undefined);
  const file = configPath ? resolveFilePaths(readConfigFile(configPath, environment), configPath) : {};
  const fromEnvironment = configInputFromEnvironment(environment);
  const merged = mergeConfigInputs(file, fromEnvironment);
  const server = isMapping(merged.server) ? merged.server : merged.server === undefined ? {} : merged.server;
  if (isMapping(server)) {
    if (overrides.host !== undefined) server.host = overrides.host;
    if (overrides.port !== undefined) server.port = overrides.port;
    merged.server = server;
  }
  if (overrides.workers !== undefined) merged.cluster = { ...(isMapping(merged.cluster) ? merged.cluster : {}), workers: overrides.workers };
  const fileIds = new Set(Array.isArray(file.providers) ? file.providers.map(rawProviderId) : []);
  const environmentProviders = ((fromEnvironment.providers ?? []) as RawProvider[]).filter((provider) => !fileIds.has(rawProviderId(provider)));
  // Said in terms of the variables the operator set, not of a providers[] entry they never wrote.
  if (environmentProviders.some((provider) => provider.type === 'azure' && provider.endpoint === undefined)) {
    throw new ConfigError([{ path: 'AZURE_OPENAI_ENDPOINT', message: 'is required when AZURE_OPENAI_API_KEY is set (https://<resource>.openai.azure.com)' }], 'environment variables');
  }
  const config = parseGatewayConfig(merged, configPath);
  return { config, configPath, providersFromEnvironment: environmentProviders.map((provider) => rawProviderId(provider)!) };
}

/** The number of worker processes: `auto` is one per CPU core the process may use. */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}
