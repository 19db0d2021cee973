/**
 * The gateway under test: `createGateway` with one OpenAI-compatible provider pointing at the mock
 * upstream, served by the gateway's own `listen`. Without `fullStack` it runs with no plugins (the
 * foundation scenario); with it, the plugins a production server composes, in the server's order
 * (packages/server/src/build-gateway.ts): billing, rate limit, cache, fallback.
 */
import type { ExactCacheStore } from '@switchyard/plugin-cache';
import type { RateLimitStore } from '@switchyard/plugin-ratelimit';
import { createGateway, type Plugin } from '@switchyard/core';
import { createOpenAICompatible } from '@switchyard/providers';
import { readTargetOptions, serveTarget } from '../lib/target-process.js';

export interface GatewayTargetOptions {
  upstreamUrl: string;
  /** Provider id: clients ask for `<providerId>/<model>`. */
  providerId: string;
  /**
   * A second mock upstream that streams slowly, served as provider `slowProviderId`: for holding many
   * streams open at once without slowing the measured path.
   */
  slowUpstreamUrl?: string;
  slowProviderId?: string;
  /** Keep-alive connections per upstream. Default: the providers' own (256). */
  upstreamConnections?: number;
  fullStack?: FullStackOptions;
}

export interface FullStackOptions {
  /** Where billing keeps keys and the ledger. */
  billing: { postgres: string; schema: string } | { embedded: string };
  masterKey: string;
  rateLimit: { store: 'memory' } | { store: 'redis'; url: string; keyPrefix: string };
  /** Fallback groups: name → models tried in order. Clients ask for the group's name. */
  fallbackGroups: Record<string, string[]>;
  /** Dollars per million tokens, the same for every model served. */
  price: { input_per_million: number; output_per_million: number };
  /** Route answering with the figures that tell whether the run measured what it meant to (cache hits, rate-limit fail-opens). */
  statsPath: string;
  /** Only these plugins (for attributing cost to each one when profiling). Default: all four. */
  only?: Array<'billing' | 'rateLimit' | 'cache' | 'fallback'>;
}

/** What `statsPath` answers. */
export interface FullStackStats {
  cacheLookups: number;
  cacheHits: number;
  /** Requests the Redis rate-limit store let through without asking Redis; 0 for the memory store. */
  rateLimitUnchecked: number;
}

/**
 * The memory exact store the cache plugin would create, counting lookups and hits: the full-stack scenario
 * wants every request to be a miss, and this is how it knows they were.
 */
class CountingStore implements ExactCacheStore {
  lookups = 0;
  hits = 0;
  readonly #inner: ExactCacheStore;

  constructor(inner: ExactCacheStore) {
    this.#inner = inner;
  }

  async get(key: string): Promise<string | undefined> {
    this.lookups++;
    const value = await this.#inner.get(key);
    if (value !== undefined) this.hits++;
    return value;
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#inner.set(key, value, ttlMs);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

await serveTarget(async () => {
  const options = readTargetOptions<GatewayTargetOptions>();
  const providers = [createOpenAICompatible({ id: options.providerId, baseURL: `${options.upstreamUrl}/v1`, apiKey: 'bench', connections: options.upstreamConnections })];
  if (options.slowUpstreamUrl) {
    providers.push(createOpenAICompatible({ id: options.slowProviderId ?? 'slow', baseURL: `${options.slowUpstreamUrl}/v1`, apiKey: 'bench', connections: options.upstreamConnections }));
  }
  if (options.fullStack) {
    // The fallback chain's second target: a provider of its own, never asked while the first one answers.
    providers.push(createOpenAICompatible({ id: 'backup', baseURL: `${options.upstreamUrl}/v1`, apiKey: 'bench', connections: options.upstreamConnections }));
  }
  const stack = options.fullStack ? await fullStackPlugins(options.fullStack) : undefined;
  const gateway = createGateway({ providers, plugins: stack?.plugins ?? [] });
  if (stack && options.fullStack) {
    const statsPath = options.fullStack.statsPath;
    gateway.router.get(statsPath, (context) => {
      context.body = stack.stats();
    });
  }
  const { url } = await gateway.listen(0, '127.0.0.1');
  await gateway.ready;
  return { url, close: () => gateway.close() };
});

/** Plugins are imported only for the full stack, so the plugin-less gateway loads exactly what it did before. */
async function fullStackPlugins(options: FullStackOptions): Promise<{ plugins: Plugin[]; stats(): FullStackStats }> {
  const [{ createBillingPlugin }, { createRateLimitPlugin }, { createCachePlugin, MemoryExactStore }, { createFallbackPlugin }] = await Promise.all([
    import('@switchyard/plugin-billing'),
    import('@switchyard/plugin-ratelimit'),
    import('@switchyard/plugin-cache'),
    import('@switchyard/plugin-fallback'),
  ]);
  // Every model a group may serve has a price, so each answer's cost is computed as in production.
  const prices = Object.fromEntries(Object.values(options.fallbackGroups).flatMap((models) => models.map((model) => [model, options.price])));
  const billing = createBillingPlugin({
    store: 'postgres' in options.billing ? { postgres: options.billing.postgres } : { embedded: options.billing.embedded },
    ...('schema' in options.billing ? { schema: options.billing.schema } : {}),
    masterKey: options.masterKey,
    prices,
  });
  const rateLimit = createRateLimitPlugin({
    store: options.rateLimit.store === 'redis' ? { redis: { url: options.rateLimit.url, keyPrefix: options.rateLimit.keyPrefix, failurePolicy: 'open' } } : 'memory',
  });
  // Default memory store limits (10,000 entries): the scenario sends more distinct requests than that in a cycle.
  const cacheStore = new CountingStore(new MemoryExactStore());
  const cache = createCachePlugin({ store: cacheStore });
  const fallback = createFallbackPlugin({
    groups: Object.fromEntries(Object.entries(options.fallbackGroups).map(([name, models]) => [name, { targets: models.map((model) => ({ model })), strategy: 'ordered' as const }])),
  });
  const rateLimitStore: RateLimitStore & { failOpenCount?: number } = rateLimit.store;
  return {
    plugins: (['billing', 'rateLimit', 'cache', 'fallback'] as const).filter((name) => !options.only || options.only.includes(name)).map((name) => ({ billing, rateLimit, cache, fallback })[name]),
    stats: () => ({ cacheLookups: cacheStore.lookups, cacheHits: cacheStore.hits, rateLimitUnchecked: rateLimitStore.failOpenCount ?? 0 }),
  };
}
