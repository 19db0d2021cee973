import { createDefaultLogger, createGateway, type Gateway, GatewayError, type Logger, type Plugin } from '@switchyard/core';
import { type BillingPlugin, createBillingPlugin } from '@switchyard/plugin-billing';
import { type CachePlugin, createCachePlugin } from '@switchyard/plugin-cache';
import { createFallbackPlugin, type FallbackPlugin } from '@switchyard/plugin-fallback';
import { createObservabilityPlugin, type ObservabilityPlugin } from '@switchyard/plugin-observability';
import { createRateLimitPlugin, type RateLimitPlugin } from '@switchyard/plugin-ratelimit';
import { requestClusterMetrics } from './cluster-metrics.js';
import type { GatewayConfig } from './config-schema.js';
import { billingOptions, cacheOptions, catalogModelFacts, defined, rateLimitOptions } from './plugin-options.js';
import { createProviders } from './providers.js';

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
export function createPlugins(config: GatewayConfig, options: { clusterMetrics?: boolean } = {}): GatewayPlugins {
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
      // In a cluster worker the route is the gateway's own, answering with every worker's metrics.
      metricsPath: options.clusterMetrics ? false : config.observability.metricsPath,
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
  /** A cluster worker: `/metrics` answers with the whole cluster's metrics, gathered by the primary. */
  clusterMetrics?: boolean;
}

/** Builds the gateway a configuration describes; it is not listening yet (`gateway.listen`). */
export function buildGateway(config: GatewayConfig, options: BuildOptions = {}): BuiltGateway {
  const { providers, demo } = createProviders(config);
  let plugins: GatewayPlugins;
  try {
    plugins = createPlugins(config, { clusterMetrics: options.clusterMetrics });
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
  const { metricsPath } = config.observability;
  if (options.clusterMetrics && metricsPath !== false) {
    gateway.router.get(metricsPath, async (ctx) => {
      let metrics: { text: string; contentType: string };
      try {
        metrics = await requestClusterMetrics();
      } catch (error) {
        throw new GatewayError({ message: `Cluster metrics are unavailable: ${(error as Error).message}.`, status: 503, type: 'service_unavailable', code: 'metrics_unavailable', isRetryable: true });
      }
      ctx.type = metrics.contentType;
      ctx.body = metrics.text;
    });
  }
  return { gateway, config, plugins, demo };
}
