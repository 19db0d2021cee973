import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigPath, parseGatewayConfig, providerIdOf, suggestField } from './config-schema.js';

/** The issues a configuration is rejected with, as `path: message` lines. */
function issuesOf(input: unknown): string[] {
  try {
    parseGatewayConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error('the configuration was accepted');
}

describe('gateway config schema', () => {
  it('fills every default for an empty file', () => {
    const config = parseGatewayConfig({});
    expect(config.server).toEqual({ host: '127.0.0.1', port: 8787, trustProxy: false, drainTimeoutMs: 10_000, logLevel: 'info' });
    expect(config.providers).toEqual([]);
    expect(config.cache).toMatchObject({ store: 'memory', ttlSeconds: 3600, coalesce: true, semantic: { enabled: false, embedder: 'local' } });
    expect(config.observability).toEqual({ metricsPath: '/metrics', logContent: false, requestLog: true });
    expect(config.billing).toEqual({ prices: {}, catalogPrices: true });
    expect(config.cluster).toEqual({ workers: 1 });
    // The fallback section is the fallback plugin's own schema, defaults included.
    expect(config.fallback.retry.maxAttempts).toBe(4);
    expect(parseGatewayConfig(null)).toEqual(config);
  });

  it('accepts a full configuration', () => {
    const config = parseGatewayConfig({
      server: { host: '0.0.0.0', port: 9000, bodyLimitBytes: 1_048_576, trustProxy: true, drainTimeoutMs: 30_000, cors: { origins: ['https://app.example.com'], credentials: true } },
      providers: [
        { type: 'openai', apiKey: 'sk-a', models: ['gpt-4o-mini'] },
        { type: 'openai', id: 'openai-eu', apiKey: 'sk-b', baseURL: 'https://eu.example.com/v1', modelPrefixes: [] },
        { type: 'anthropic', apiKey: 'sk-ant', version: '2023-06-01' },
        { type: 'gemini', apiKey: 'g' },
        { type: 'azure', apiKey: 'az', endpoint: 'https://r.openai.azure.com', apiVersion: 'v1', deployments: ['gpt-4o'] },
        { type: 'ollama' },
        { type: 'openai-compatible', id: 'vllm', baseURL: 'http://10.0.0.5:8000/v1' },
        { type: 'echo', chunkDelayMs: 5 },
      ],
      aliases: { fast: 'openai/gpt-4o-mini' },
      fallback: { groups: { smart: { strategy: 'ordered', targets: [{ model: 'anthropic/claude-sonnet-4-5' }, { model: 'openai/gpt-4o' }] } }, routes: [{ group: 'smart', match: { model: 'best' } }] },
      rateLimit: { store: 'redis', redisUrl: 'redis://127.0.0.1:6379', failurePolicy: 'closed', defaults: { rpm: 60, tpm: 100_000 }, anonymous: { rpm: 10 }, models: { 'openai/gpt-4o': { rpm: 5 } } },
      cache: { store: 'redis', redisUrl: 'rediss://cache.internal:6380', ttlSeconds: 600, semantic: { enabled: true, embedder: 'openai/text-embedding-3-small', threshold: 0.93 } },
      observability: { metricsPath: false, logContent: true },
      billing: { masterKey: 'sk-master', databaseUrl: 'postgres://u:p@db/switchyard', prices: { 'openai/gpt-4o-mini': { input_per_million: 0.15, output_per_million: 0.6 } } },
      cluster: { workers: 'auto' },
    });
    expect(config.providers.map(providerIdOf)).toEqual(['openai', 'openai-eu', 'anthropic', 'gemini', 'azure', 'ollama', 'vllm', 'demo']);
    expect(config.cluster.workers).toBe('auto');
    expect(config.fallback.groups.smart!.targets[0]).toEqual({ model: 'anthropic/claude-sonnet-4-5', weight: 1 });
  });

  it('names the path of every bad field at once', () => {
    expect(
      issuesOf({
        server: { port: 70_000, host: '' },
        providers: [{ type: 'echo' }, { type: 'openai' }, { type: 'anthropic', apiKey: 5 }],
        cache: { ttlSeconds: 0 },
      }),
    ).toEqual([
      'server.host: must not be empty',
      'server.port: must be at most 65535',
      'providers[1].apiKey: is required',
      'providers[2].apiKey: expected a string, got a number',
      'cache.ttlSeconds: must be at least 1',
    ]);
  });

  it('names unknown provider types and lists the known ones', () => {
    const [unknown, missing] = issuesOf({ providers: [{ type: 'openia', apiKey: 'k' }, { apiKey: 'k' }] });
    expect(unknown).toMatch(/^providers\[0\]\.type: 'openia' is not one of openai, deepseek, .*openai-compatible, .*echo$/);
    expect(missing).toMatch(/^providers\[1\]\.type: is required: one of openai, /);
  });

  it('rejects unknown fields and suggests the field meant', () => {
    expect(issuesOf({ providers: [{ type: 'openai', apikey: 'k' }], server: { prot: 1 }, cache: { semantic: { treshold: 0.9 } }, caches: {} })).toEqual([
      "server.prot: unknown field (did you mean 'port'?)",
      'providers[0].apiKey: is required',
      "providers[0].apikey: unknown field (did you mean 'apiKey'?)",
      "cache.semantic.treshold: unknown field (did you mean 'threshold'?)",
      "caches: unknown field (did you mean 'cache'?)",
    ]);
    // Fields of another provider type are unknown here: Azure has deployments, not models.
    expect(issuesOf({ providers: [{ type: 'azure', apiKey: 'k', endpoint: 'https://r.openai.azure.com', models: ['x'] }] })).toEqual(['providers[0].models: unknown field']);
  });

  it('reads numbers and flags written as text, as `${VAR}` interpolation produces them', () => {
    const config = parseGatewayConfig({ server: { port: '9000', trustProxy: 'true' }, cache: { semantic: { enabled: 'false', threshold: '0.9' } }, cluster: { workers: '4' } });
    expect(config.server.port).toBe(9000);
    expect(config.server.trustProxy).toBe(true);
    expect(config.cache.semantic).toMatchObject({ enabled: false, threshold: 0.9 });
    expect(config.cluster.workers).toBe(4);
    expect(issuesOf({ server: { port: 'eighty' } })).toEqual(["server.port: expected a number, got 'eighty'"]);
    expect(issuesOf({ server: { trustProxy: 'yes please' } })).toEqual(["server.trustProxy: expected true or false, got 'yes please'"]);
  });

  it('never shows the text of a string field in an error', () => {
    const [issue] = issuesOf({ providers: [{ type: 'openai', apiKey: 'sk-secret-value', baseURL: 'sk-secret-value' }] });
    expect(issue).toBe('providers[0].baseURL: must be an http:// or https:// URL');
  });

  it('checks enumerations, URLs and ranges', () => {
    expect(
      issuesOf({
        server: { logLevel: 'verbose' },
        rateLimit: { store: 'memcached', redisUrl: 'http://redis' },
        cache: { semantic: { threshold: 1.5 } },
        billing: { databaseUrl: 'mysql://db' },
        cluster: { workers: 0 },
        observability: { metricsPath: 'metrics' },
      }),
    ).toEqual([
      "server.logLevel: 'verbose' is not one of fatal, error, warn, info, debug, trace, silent",
      "rateLimit.store: 'memcached' is not one of memory, redis",
      'rateLimit.redisUrl: must be a redis:// or rediss:// URL',
      'cache.semantic.threshold: must be at most 1',
      'observability.metricsPath: must start with /',
      'billing.databaseUrl: must be a postgres:// or postgresql:// URL',
      expect.stringMatching(/^cluster\.workers: /),
    ]);
  });

  it('needs a Redis URL for a Redis store', () => {
    expect(issuesOf({ rateLimit: { store: 'redis' } })).toEqual(['rateLimit.redisUrl: is required when store is redis (or set REDIS_URL)']);
    expect(issuesOf({ cache: { store: 'redis' } })).toEqual(['cache.redisUrl: is required when store is redis (or set REDIS_URL)']);
  });

  it('needs an Azure endpoint and a key or an authorization header', () => {
    expect(issuesOf({ providers: [{ type: 'azure' }] })).toEqual([
      'providers[0].endpoint: is required (https://<resource>.openai.azure.com), or give resourceName',
      'providers[0].apiKey: is required (or an authorization header with an Entra ID token)',
    ]);
    expect(() => parseGatewayConfig({ providers: [{ type: 'azure', resourceName: 'r', headers: { Authorization: 'Bearer token' } }] })).not.toThrow();
  });

  it('needs an id and a base URL for a generic OpenAI-compatible server', () => {
    expect(issuesOf({ providers: [{ type: 'openai-compatible' }] })).toEqual(['providers[0].id: is required', 'providers[0].baseURL: is required']);
    expect(issuesOf({ providers: [{ type: 'openai-compatible', id: 'my/server', baseURL: 'http://h' }] })).toEqual([
      'providers[0].id: must be letters, digits, dots, dashes or underscores (it is the model prefix: `<id>/<model>`)',
    ]);
  });

  it('rejects two providers with the same id, naming the second', () => {
    expect(issuesOf({ providers: [{ type: 'openai', apiKey: 'a' }, { type: 'openai', apiKey: 'b' }] })).toEqual([
      "providers[1].id: 'openai' is already the id of providers[0]; give one of them another id",
    ]);
    expect(issuesOf({ providers: [{ type: 'echo' }, { type: 'openai-compatible', id: 'demo', baseURL: 'http://h' }] })).toEqual([
      "providers[1].id: 'demo' is already the id of providers[0]; give one of them another id",
    ]);
  });

  it('validates the fallback section with its own schema, paths prefixed, and routes against groups', () => {
    expect(issuesOf({ fallback: { groups: { smart: { targets: [{ model: 'a/b', weight: -1 }] } } } })).toEqual(['fallback.groups.smart.targets[0].weight: must be greater than 0']);
    expect(issuesOf({ fallback: { groups: { smart: { targets: [] } } } })).toEqual([expect.stringMatching(/^fallback\.groups\.smart\.targets: /)]);
    expect(issuesOf({ fallback: { groups: {}, routes: [{ group: 'missing' }] } })).toEqual(["fallback.routes[0].group: no group named 'missing'"]);
  });

  it('rejects unknown fields in the fallback section too, which its own schema would drop', () => {
    expect(
      issuesOf({
        fallback: {
          grups: {},
          groups: { smart: { targets: [{ model: 'a/b', wieght: 2 }], stratgy: 'ordered' } },
          routes: [{ group: 'smart', match: { header: { 'x-task': 'summary' } } }],
          retry: { maxAttempts: 2, backoff: 100 },
        },
      }),
    ).toEqual([
      "fallback.grups: unknown field (did you mean 'groups'?)",
      "fallback.groups.smart.targets[0].wieght: unknown field (did you mean 'weight'?)",
      "fallback.groups.smart.stratgy: unknown field (did you mean 'strategy'?)",
      "fallback.routes[0].match.header: unknown field (did you mean 'headers'?)",
      'fallback.retry.backoff: unknown field',
    ]);
    // Free-form maps (request parameters, header and body matches) take any key.
    expect(() => parseGatewayConfig({ fallback: { groups: { g: { targets: [{ model: 'a/b', params: { anything: 1 } }] } }, routes: [{ group: 'g', match: { body: { any_field: true } } }] } })).not.toThrow();
  });

  it('names the list and the mapping expected for wrongly shaped sections', () => {
    expect(issuesOf({ providers: { type: 'openai' }, aliases: ['fast'] })).toEqual(['providers: expected a list, got a mapping', 'aliases: expected a mapping, got a list']);
  });
});

describe('formatConfigPath', () => {
  it('writes list indexes in brackets and keys with dots', () => {
    expect(formatConfigPath(['providers', 1, 'apiKey'])).toBe('providers[1].apiKey');
    expect(formatConfigPath(['fallback', 'groups', 'smart', 'targets', 0, 'model'])).toBe('fallback.groups.smart.targets[0].model');
    expect(formatConfigPath([])).toBe('(root)');
  });
});

describe('suggestField', () => {
  it('finds the field meant despite case, separators or a typo, and nothing for unrelated names', () => {
    expect(suggestField('api_key', ['apiKey', 'baseURL'])).toBe('apiKey');
    expect(suggestField('baseUrl', ['apiKey', 'baseURL'])).toBe('baseURL');
    expect(suggestField('modles', ['models', 'headers'])).toBe('models');
    expect(suggestField('color', ['apiKey', 'baseURL'])).toBeUndefined();
  });
});
