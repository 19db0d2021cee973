import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BillingOptions, ModelPrice, PricedModel } from '@switchyard/plugin-billing';
import type { CacheOptions } from '@switchyard/plugin-cache';
import type { ModelFacts } from '@switchyard/plugin-fallback';
import type { RateLimitOptions } from '@switchyard/plugin-ratelimit';
import { findModel, findModelByName, ratesFor } from '@switchyard/providers';
import { type ConfigIssue, ConfigError, type GatewayConfig } from './config-schema.js';

/*
 * Plugin options from the configuration: pure functions with type-only imports of the plugins, so that
 * `switchyard check-config` and the cluster primary can reason about a configuration without loading
 * the plugins' runtimes (database drivers, Redis clients, metrics).
 */

/** Leaves out undefined options so a factory's own defaults apply. */
export function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}

/** Context windows and list prices from the providers' model catalog, for fallback's routing. */
export function catalogModelFacts(model: string): ModelFacts | undefined {
  const facts = findModelByName(model);
  if (!facts) return undefined;
  // Routing compares typical requests, so the base tier (not a long-context surcharge) is what counts.
  const rates = facts.pricing ? ratesFor(facts.pricing, 0) : undefined;
  return defined({ contextWindow: facts.contextWindow, inputPrice: rates?.inputPerMillion, outputPrice: rates?.outputPerMillion });
}

/** List prices from the providers' model catalog, for billing models the configuration gives no price. */
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
