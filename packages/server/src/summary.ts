import { billingStoreOf, cacheOptions, rateLimitOptions, rateLimitStoreOf } from './plugin-options.js';
import { type GatewayConfig, providerIdOf } from './config-schema.js';
import { type LoadedConfig, workerCount } from './environment.js';

/** Where a provider sends requests, for the summary; never its key. */
function providerTarget(provider: LoadedConfig['config']['providers'][number]): string | undefined {
  if ('baseURL' in provider && provider.baseURL) return provider.baseURL;
  if (provider.type === 'azure') return provider.endpoint ?? `https://${provider.resourceName}.openai.azure.com`;
  return undefined;
}

/**
 * A readable summary of what a configuration runs: address, providers and where each came from,
 * aliases, fallback groups and the plugins with their stores. Secrets are never printed.
 */
export function describeConfig(loaded: LoadedConfig): string[] {
  const { config } = loaded;
  const lines: string[] = [];
  const workers = workerCount(config.cluster.workers);
  lines.push(
    `server: http://${config.server.host}:${config.server.port}/v1, ${workers} worker${workers === 1 ? '' : 's'}${config.cluster.workers === 'auto' ? ' (auto)' : ''}, drains for up to ${config.server.drainTimeoutMs} ms on shutdown`,
  );
  const fromEnvironment = new Set(loaded.providersFromEnvironment);
  if (config.providers.length === 0) {
    lines.push('providers: none configured: the built-in demo/echo model is served');
  } else {
    lines.push(`providers (${config.providers.length}):`);
    for (const provider of config.providers) {
      const id = providerIdOf(provider);
      const target = providerTarget(provider);
      lines.push(`  ${id}: ${provider.type}${target ? ` at ${target}` : ''}${fromEnvironment.has(id) ? ' (from environment variables)' : ''}`);
    }
  }
  const aliases = Object.entries(config.aliases);
  if (aliases.length > 0) lines.push(`aliases: ${aliases.map(([alias, model]) => `${alias} → ${model}`).join(', ')}`);
  const groups = Object.entries(config.fallback.groups);
  if (groups.length > 0) {
    lines.push(`fallback groups (${groups.length}):`);
    for (const [name, group] of groups) lines.push(`  ${name} (${group.strategy}): ${group.targets.map((target) => target.model).join(' → ')}`);
  }
  if (config.fallback.routes.length > 0) lines.push(`routing rules: ${config.fallback.routes.length}`);

  const plugins: string[] = [];
  const billing = billingStoreOf(config.billing);
  if (billing) {
    const where = billing.kind === 'postgres' ? 'PostgreSQL' : billing.kind === 'memory' ? 'in memory, lost on restart' : `embedded store in ${billing.dataDir}`;
    plugins.push(`billing (${where}; ${config.billing.masterKey ? 'virtual keys required' : 'no master key: open, admin API unprotected'})`);
  }
  if (rateLimitOptions(config)) plugins.push(`ratelimit (${rateLimitStoreOf(config)})`);
  const cache = cacheOptions(config);
  if (cache) plugins.push(`cache (${config.cache.store}, ${config.cache.ttlSeconds} s${config.cache.semantic.enabled ? `, semantic with ${config.cache.semantic.embedder}` : ''})`);
  plugins.push('fallback');
  plugins.push(`observability (${config.observability.metricsPath === false ? 'no metrics endpoint' : `metrics on ${config.observability.metricsPath}`})`);
  lines.push(`plugins: ${plugins.join(', ')}`);
  return lines;
}

/** Warnings about how the configuration runs, logged once at startup (by the primary in cluster mode). */
export function startupWarnings(config: GatewayConfig, demo: boolean): string[] {
  const warnings: string[] = [];
  if (demo) {
    warnings.push(
      'no provider configured (no providers in the config file, no provider key such as OPENAI_API_KEY in the environment): serving only the built-in demo/echo model, which answers locally by repeating your message',
    );
  }
  const billing = billingStoreOf(config.billing);
  if (!config.billing.masterKey) {
    warnings.push(
      billing
        ? 'dev mode: no master key (SWITCHYARD_MASTER_KEY or billing.masterKey), so requests without a key are served and the admin API at /admin is open to anyone who can reach this server'
        : 'dev mode: no master key (SWITCHYARD_MASTER_KEY or billing.masterKey), so requests are not authenticated and usage is not recorded; set one (and DATABASE_URL or SWITCHYARD_DATA_DIR) to issue keys and bill usage',
    );
  }
  return warnings;
}
