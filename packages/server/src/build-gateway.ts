import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDefaultLogger, createGateway, type Gateway, type Logger, type Plugin, ProviderRegistry, type ProviderV1 } from '@switchyard/core';
import { type BillingOptions, type BillingPlugin, createBillingPlugin, type ModelPrice, type PricedModel } from '@switchyard/plugin-billing';
import { type CacheOptions, type CachePlugin, createCachePlugin } from '@switchyard/plugin-cache';
import { createFallbackPlugin, type FallbackPlugin, type ModelFacts } from '@switchyard/plugin-fallback';
import { createObservabilityPlugin, type ObservabilityPlugin } from '@switchyard/plugin-observability';
import { createRateLimitPlugin, type RateLimitOptions, type RateLimitPlugin } from '@switchyard/plugin-ratelimit';
import {
  createAnthropic,
  createAzureOpenAI,
  createEchoProvider,
  createFromPreset,
  createGemini,
  createOpenAICompatible,
  findModel,
  findModelByName,
  ratesFor,
} from '@switchyard/providers';
import { type ConfigIssue, ConfigError, type GatewayConfig, type ProviderConfig, providerIdOf } from './config-schema.js';

/** Leaves out undefined options so a factory's own defaults apply. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

/** Creates the provider one `providers[]` entry describes. */
export function createProvider(spec: ProviderConfig): ProviderV1 {
  const connection = defined({
    connectTimeoutMs: 'connectTimeoutMs' in spec ? spec.connectTimeoutMs : undefined,
    firstByteTimeoutMs: 'firstByteTimeoutMs' in spec ? spec.firstByteTimeoutMs : undefined,
    idleTimeoutMs: 'idleTimeoutMs' in spec ? spec.idleTimeoutMs : undefined,
    connections: 'connections' in spec ? spec.connections : undefined,
  });
  switch (spec.type) {
    case 'echo':
      return createEchoProvider(defined({ id: spec.id, chunkDelayMs: spec.chunkDelayMs }));
    case 'openai-compatible':
      return createOpenAICompatible(
        defined({ ...connection, id: spec.id, baseURL: spec.baseURL, apiKey: spec.apiKey, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models, streamUsage: spec.streamUsage, catalogProvider: spec.catalogProvider }),
      );
    case 'ollama':
      return createFromPreset('ollama', defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models }));
    case 'anthropic':
      return withModelPrefixes(
        createAnthropic(defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, models: spec.models, version: spec.version, defaultMaxTokens: spec.defaultMaxTokens })),
        spec.modelPrefixes,
      );
    case 'gemini':
      return createGemini(defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models }));
    case 'azure':
      return withModelPrefixes(
        createAzureOpenAI(
          defined({ ...connection, id: spec.id, apiKey: spec.apiKey, endpoint: spec.endpoint, resourceName: spec.resourceName, apiVersion: spec.apiVersion, deployments: spec.deployments, headers: spec.headers, streamUsage: spec.streamUsage }),
        ),
        spec.modelPrefixes,
      );
    default:
      return createFromPreset(
        spec.type,
        defined({ ...connection, id: spec.id, apiKey: spec.apiKey, baseURL: spec.baseURL, headers: spec.headers, modelPrefixes: spec.modelPrefixes, models: spec.models, streamUsage: spec.streamUsage }),
      );
  }
}

/** Anthropic and Azure fix their bare-name prefixes; a configured list replaces them on the provider object. */
function withModelPrefixes(provider: ProviderV1, modelPrefixes: readonly string[] | undefined): ProviderV1 {
  return modelPrefixes === undefined ? provider : { ...provider, modelPrefixes };
}

export interface ConfiguredProviders {
  providers: ProviderV1[];
  /** True when nothing was configured and the built-in `demo/echo` model is served instead. */
  demo: boolean;
}

/** The configured providers, or the built-in demo/echo model when there are none. */
export function createProviders(config: GatewayConfig): ConfiguredProviders {
  const issues: ConfigIssue[] = [];
  const providers: ProviderV1[] = [];
  config.providers.forEach((spec, index) => {
    try {
      providers.push(createProvider(spec));
    } catch (error) {
      issues.push({ path: `providers[${index}]`, message: (error as Error).message });
    }
  });
  if (issues.length > 0) {
    for (const provider of providers) void provider.close?.();
    throw new ConfigError(issues);
  }
  if (providers.length > 0) return { providers, demo: false };
  return { providers: [createEchoProvider()], demo: true };
}

/** Context windows and list prices from the providers' model catalog, for fallback's routing. */
export function catalogModelFacts(model: string): ModelFacts | undefined {
  const facts = findModelByName(model);
  if (!facts) return undefined;
  // Routing compares typical requests, so the base tier (not a long-context surcharge) is what counts.
  const rates = facts.pricing ? ratesFor(facts.pricing, 0) : undefined;
  return defined({ contextWindow: facts.contextWindow, inputPrice: rates?.inputPerMillion, outputPrice: rates?.outputPerMillion });
}

/** List prices from the providers' model catalog, for billing models the configuration prices not. */
export function catalogPrice(model: PricedModel): ModelPrice | undefined {
  const facts = findModel(model.providerId, model.modelId);
  if (!facts?.pricing) return undefined;
  const perToken = (perMillion: number | undefined) => (perMillion === undefined ? undefined : perMillion / 1_000_000);
  return defined({
    inputPerToken: facts.pricing.inputPerMillion / 1_000_000,
    outputPerToken: facts.pricing.outputPerMillion / 1_000_000,
    cacheReadPerToken: perToken(facts.pricing.cachedInputPerMillion),
    cacheWritePerToken: perToken(facts.pricing.cacheWritePerMillion),
    maxOutputTokens: facts.maxOutputTokens,
  });
}

/** Where billing keeps keys and the ledger; undefined when billing is off. */
export function billingStoreOf(billing: GatewayConfig['billing']): { store: BillingOptions['store']; kind: 'postgres' | 'embedded' | 'memory'; dataDir: string | undefined } | undefined {
  // A master key without a database keeps keys in the embedded store: issuing keys must survive restarts.
  const dataDir = billing.dataDir ?? (billing.masterKey ? '.data/switchyard' : undefined);
  if (billing.databaseUrl) return { store: { postgres: billing.databaseUrl }, kind: 'postgres', dataDir };
  if (dataDir) return { store: { embedded: dataDir }, kind: dataDir === 'memory://' ? 'memory' : 'embedded', dataDir };
  return undefined;
}

/**
 * Billing's options, or undefined when billing is off: no master key, no database and no data
 * directory is an open development server that records nothing and leaves no files behind.
 */
export function billingOptions(config: GatewayConfig): BillingOptions | undefined {
  const { billing } = config;
  const where = billingStoreOf(billing);
  if (!where) return undefined;
  const files = billing.litellmPrices === undefined ? [] : Array.isArray(billing.litellmPrices) ? billing.litellmPrices : [billing.litellmPrices];
  const issues: ConfigIssue[] = [];
  const litellmPrices = files.map((path, index) => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as unknown;
    } catch (error) {
      issues.push({ path: Array.isArray(billing.litellmPrices) ? `billing.litellmPrices[${index}]` : 'billing.litellmPrices', message: `cannot read '${path}': ${(error as Error).message}` });
      return undefined;
    }
  });
  if (issues.length > 0) throw new ConfigError(issues);
  const spillDirectory = billing.spillDir ?? (where.dataDir && where.dataDir !== 'memory://' ? join(where.dataDir, 'unsent') : undefined);
  return defined({
    store: where.store,
    schema: billing.schema,
    masterKey: billing.masterKey,
    allowAnonymous: billing.allowAnonymous,
    prices: billing.prices,
    litellmPrices,
    catalog: billing.catalogPrices ? catalogPrice : undefined,
    unpricedModels: billing.unpricedModels,
    defaultMaxOutputTokens: billing.defaultMaxOutputTokens,
    ledger: defined({ spillDirectory }),
  });
}

function hasLimits(limits: object | undefined): boolean {
  return limits !== undefined && Object.values(limits).some((value) => value !== undefined);
}

/** The rate-limit store, `redis` by default when a Redis URL is known. */
export function rateLimitStoreOf(config: GatewayConfig): 'memory' | 'redis' {
  return config.rateLimit.store ?? (config.rateLimit.redisUrl ? 'redis' : 'memory');
}

/**
 * Rate limiting's options, or undefined when nothing is limited: it runs when virtual keys exist (they
 * carry their own limits) or when limits are configured.
 */
export function rateLimitOptions(config: GatewayConfig): RateLimitOptions | undefined {
  const { rateLimit } = config;
  const models = rateLimit.models ?? {};
  const configured = hasLimits(rateLimit.defaults) || hasLimits(rateLimit.anonymous) || Object.values(models).some(hasLimits);
  if (!configured && !billingStoreOf(config.billing)) return undefined;
  return defined<RateLimitOptions>({
    store: rateLimitStoreOf(config) === 'redis' ? { redis: defined({ url: rateLimit.redisUrl!, failurePolicy: rateLimit.failurePolicy }) } : 'memory',
    defaults: rateLimit.defaults,
    anonymous: rateLimit.anonymous,
    models: rateLimit.models,
    defaultOutputTokens: rateLimit.defaultOutputTokens,
  });
}

/** The cache's options, or undefined when `cache.store` is `off`. */
export function cacheOptions(config: GatewayConfig): CacheOptions | undefined {
  const { cache } = config;
  if (cache.store === 'off') return undefined;
  return defined<CacheOptions>({
    store: cache.store === 'redis' ? { redis: { url: cache.redisUrl! } } : 'memory',
    ttlMs: cache.ttlSeconds * 1000,
    maxTtlMs: cache.maxTtlSeconds === undefined ? undefined : cache.maxTtlSeconds * 1000,
    coalesce: cache.coalesce,
    scopeHeader: cache.scopeHeader,
    semantic: cache.semantic.enabled ? defined({ embedder: cache.semantic.embedder, threshold: cache.semantic.threshold, maxEntries: cache.semantic.maxEntries }) : false,
  });
}

export interface GatewayPlugins {
  billing: BillingPlugin | undefined;
  rateLimit: RateLimitPlugin | undefined;
  cache: CachePlugin | undefined;
  fallback: FallbackPlugin;
  observability: ObservabilityPlugin;
}

/**
 * The plugins in the order their hooks must run: billing authenticates and puts the virtual key on the
 * request, which rate limiting and cache scoping read; the cache answers before any upstream call;
 * fallback wraps the upstream call with retries; observability is last, so its upstream wrapper is the
 * innermost one and sees every attempt, and its response hook sees what every other plugin decided.
 */
export function createPlugins(config: GatewayConfig): GatewayPlugins {
  // Options first: they may reject the configuration, and nothing (no Redis client, no database pool) is open yet.
  const billing = billingOptions(config);
  const rateLimit = rateLimitOptions(config);
  const cache = cacheOptions(config);
  const fallback = createFallbackPlugin({ ...config.fallback, modelFacts: catalogModelFacts });
  return {
    billing: billing ? createBillingPlugin(billing) : undefined,
    rateLimit: rateLimit ? createRateLimitPlugin(rateLimit) : undefined,
    cache: cache ? createCachePlugin(cache) : undefined,
    fallback,
    observability: createObservabilityPlugin({
      metricsPath: config.observability.metricsPath,
      logContent: config.observability.logContent,
      requestLog: config.observability.requestLog,
      breakers: function* () {
        for (const [target, health] of fallback.health.entries()) yield [target, health.breaker.state];
      },
    }),
  };
}

/** Plugins in hook order, without the ones turned off. */
export function pluginList(plugins: GatewayPlugins): Plugin[] {
  return [plugins.billing, plugins.rateLimit, plugins.cache, plugins.fallback, plugins.observability].filter((plugin): plugin is NonNullable<typeof plugin> => plugin !== undefined);
}

export interface BuiltGateway {
  gateway: Gateway;
  config: GatewayConfig;
  plugins: GatewayPlugins;
  /** True when no provider is configured and only the built-in `demo/echo` model is served. */
  demo: boolean;
}

export interface BuildOptions {
  /** Default: pino at `server.logLevel`. */
  logger?: Logger;
}

/** Builds the gateway a configuration describes; it is not listening yet (`gateway.listen`). */
export function buildGateway(config: GatewayConfig, options: BuildOptions = {}): BuiltGateway {
  const { providers, demo } = createProviders(config);
  let plugins: GatewayPlugins;
  try {
    plugins = createPlugins(config);
  } catch (error) {
    for (const provider of providers) void provider.close?.();
    throw error;
  }
  const { server } = config;
  const gateway = createGateway({
    providers,
    aliases: config.aliases,
    plugins: pluginList(plugins),
    logger: options.logger ?? createDefaultLogger(server.logLevel),
    bodyLimitBytes: server.bodyLimitBytes,
    trustProxy: server.trustProxy,
    drainTimeoutMs: server.drainTimeoutMs,
    cors: server.cors ? defined({ origins: server.cors.origins, credentials: server.cors.credentials, maxAgeSeconds: server.cors.maxAgeSeconds }) : false,
  });
  return { gateway, config, plugins, demo };
}

/**
 * Model names the configuration points at that no configured provider serves: alias targets, fallback
 * group targets, the semantic cache's embedding model. A gateway starts with these (fallback refuses
 * its groups at startup), but `check-config` reports them before a deployment does.
 */
export function checkModelReferences(config: GatewayConfig): ConfigIssue[] {
  const { providers } = createProviders(config);
  try {
    const registry = new ProviderRegistry(providers, config.aliases);
    const issues: ConfigIssue[] = [];
    const serves = (model: string) => registry.tryResolve(registry.aliases().get(model) ?? model) !== undefined;
    for (const [alias, model] of Object.entries(config.aliases)) {
      if (!serves(model)) issues.push({ path: `aliases.${alias}`, message: `no configured provider serves '${model}'` });
    }
    for (const [name, group] of Object.entries(config.fallback.groups)) {
      group.targets.forEach((target, index) => {
        if (!serves(target.model)) issues.push({ path: `fallback.groups.${name}.targets[${index}].model`, message: `no configured provider serves '${target.model}'` });
      });
    }
    const { semantic } = config.cache;
    if (config.cache.store !== 'off' && semantic.enabled && semantic.embedder !== 'local' && !serves(semantic.embedder)) {
      issues.push({ path: 'cache.semantic.embedder', message: `no configured provider serves '${semantic.embedder}' (use 'local' or provider/model)` });
    }
    return issues;
  } finally {
    for (const provider of providers) void provider.close?.();
  }
}

/** The ids of the providers a configuration serves, in order (`demo` when none is configured). */
export function providerIds(config: GatewayConfig): string[] {
  return config.providers.length > 0 ? config.providers.map(providerIdOf) : ['demo'];
}
