import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, providerIdOf } from './config-schema.js';
import { configInputFromEnvironment, loadConfig, mergeConfigInputs, workerCount } from './environment.js';

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error('no error was thrown');
}

const directory = mkdtempSync(join(tmpdir(), 'switchyard-environment-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

describe('configuration from environment variables only', () => {
  it('has no provider and every default with an empty environment', () => {
    const { config, configPath, providersFromEnvironment } = loadConfig({});
    expect(configPath).toBeUndefined();
    expect(config.providers).toEqual([]);
    expect(providersFromEnvironment).toEqual([]);
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8787, logLevel: 'info' });
    expect(config.cache.store).toBe('memory');
    expect(config.rateLimit).toEqual({});
    expect(config.cluster.workers).toBe(1);
  });

  it('enables each provider by its key, with its base URL, in a fixed order', () => {
    const { config, providersFromEnvironment } = loadConfig({
      GEMINI_API_KEY: 'gemini-key',
      GEMINI_BASE_URL: 'http://127.0.0.1:1/v1beta',
      ANTHROPIC_API_KEY: 'anthropic-key',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:2/v1',
      AZURE_OPENAI_API_KEY: 'azure-key',
      AZURE_OPENAI_ENDPOINT: 'https://resource.openai.azure.com',
      AZURE_OPENAI_API_VERSION: 'v1',
      AZURE_OPENAI_DEPLOYMENTS: 'gpt-4o, gpt-4o-mini,,',
      OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1',
      TOGETHER_API_KEY: 'together-key',
      OPENROUTER_API_KEY: 'openrouter-key',
      DASHSCOPE_API_KEY: 'dashscope-key',
      XAI_API_KEY: 'xai-key',
      MISTRAL_API_KEY: 'mistral-key',
      GROQ_API_KEY: 'groq-key',
      DEEPSEEK_API_KEY: 'deepseek-key',
      DEEPSEEK_BASE_URL: 'http://127.0.0.1:3/v1',
      OPENAI_API_KEY: 'openai-key',
      OPENAI_BASE_URL: 'http://127.0.0.1:4/v1',
    });
    const ids = ['openai', 'deepseek', 'groq', 'mistral', 'xai', 'dashscope', 'openrouter', 'together', 'ollama', 'azure', 'anthropic', 'gemini'];
    expect(config.providers.map(providerIdOf)).toEqual(ids);
    expect(providersFromEnvironment).toEqual(ids);
    expect(config.providers[0]).toEqual({ type: 'openai', apiKey: 'openai-key', baseURL: 'http://127.0.0.1:4/v1' });
    expect(config.providers[1]).toEqual({ type: 'deepseek', apiKey: 'deepseek-key', baseURL: 'http://127.0.0.1:3/v1' });
    expect(config.providers[2]).toEqual({ type: 'groq', apiKey: 'groq-key' });
    expect(config.providers[8]).toEqual({ type: 'ollama', baseURL: 'http://127.0.0.1:11434/v1' });
    expect(config.providers[9]).toEqual({ type: 'azure', apiKey: 'azure-key', endpoint: 'https://resource.openai.azure.com', apiVersion: 'v1', deployments: ['gpt-4o', 'gpt-4o-mini'] });
    expect(config.providers[10]).toEqual({ type: 'anthropic', apiKey: 'anthropic-key', baseURL: 'http://127.0.0.1:2/v1' });
    expect(config.providers[11]).toEqual({ type: 'gemini', apiKey: 'gemini-key', baseURL: 'http://127.0.0.1:1/v1beta' });
  });

  it('treats empty variables as unset', () => {
    const { config } = loadConfig({ OPENAI_API_KEY: '', OPENAI_BASE_URL: 'http://127.0.0.1:4/v1', PORT: '', SWITCHYARD_MASTER_KEY: '', SWITCHYARD_CONFIG: ' ' });
    expect(config.providers).toEqual([]);
    expect(config.server.port).toBe(8787);
    expect(config.billing.masterKey).toBeUndefined();
  });

  it('reads the server, rate limit, cache, billing and cluster variables', () => {
    const { config } = loadConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      LOG_LEVEL: 'warn',
      SWITCHYARD_DRAIN_TIMEOUT_MS: '2500',
      SWITCHYARD_TRUST_PROXY: 'on',
      SWITCHYARD_CORS_ORIGINS: 'https://a.example.com, https://b.example.com',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      SWITCHYARD_RATE_LIMIT_RPM: '60',
      SWITCHYARD_RATE_LIMIT_TPM: '100000',
      SWITCHYARD_RATE_LIMIT_CONCURRENCY: '4',
      SWITCHYARD_RATE_LIMIT_FAILURE_POLICY: 'closed',
      SWITCHYARD_CACHE: 'redis',
      SWITCHYARD_CACHE_TTL_SECONDS: '120',
      SWITCHYARD_SEMANTIC_CACHE: 'on',
      SWITCHYARD_SEMANTIC_THRESHOLD: '0.9',
      SWITCHYARD_EMBEDDING_MODEL: 'openai/text-embedding-3-small',
      SWITCHYARD_MASTER_KEY: 'sk-master',
      DATABASE_URL: 'postgres://user:secret@db:5432/switchyard',
      SWITCHYARD_DATA_DIR: '/var/lib/switchyard',
      SWITCHYARD_BILLING_SCHEMA: 'billing',
      SWITCHYARD_SPILL_DIR: '/var/spool/switchyard',
      SWITCHYARD_WORKERS: '3',
    });
    expect(config.server).toEqual({ host: '0.0.0.0', port: 9000, logLevel: 'warn', drainTimeoutMs: 2500, trustProxy: true, cors: { origins: ['https://a.example.com', 'https://b.example.com'], credentials: false } });
    const limits = { rpm: 60, tpm: 100_000, maxConcurrency: 4 };
    expect(config.rateLimit).toEqual({ redisUrl: 'redis://127.0.0.1:6379/2', failurePolicy: 'closed', defaults: limits, anonymous: limits });
    expect(config.cache).toEqual({
      store: 'redis',
      redisUrl: 'redis://127.0.0.1:6379/2',
      ttlSeconds: 120,
      coalesce: true,
      semantic: { enabled: true, threshold: 0.9, embedder: 'openai/text-embedding-3-small' },
    });
    expect(config.billing).toEqual({
      masterKey: 'sk-master',
      databaseUrl: 'postgres://user:secret@db:5432/switchyard',
      dataDir: '/var/lib/switchyard',
      schema: 'billing',
      spillDir: '/var/spool/switchyard',
      prices: {},
      catalogPrices: true,
    });
    expect(config.cluster.workers).toBe(3);
    expect(loadConfig({ SWITCHYARD_WORKERS: 'auto', SWITCHYARD_CORS_ORIGINS: '*' }).config).toMatchObject({ cluster: { workers: 'auto' }, server: { cors: { origins: '*' } } });
  });

  it('names each bad variable, all at once', () => {
    expect(
      issuesOf(() =>
        configInputFromEnvironment({
          PORT: 'http',
          LOG_LEVEL: 'loud',
          SWITCHYARD_WORKERS: 'many',
          SWITCHYARD_CACHE: 'disk',
          SWITCHYARD_SEMANTIC_CACHE: 'maybe',
          SWITCHYARD_SEMANTIC_THRESHOLD: '2',
          SWITCHYARD_RATE_LIMIT_RPM: '-1',
          SWITCHYARD_RATE_LIMIT_STORE: 'postgres',
        }),
      ),
    ).toEqual([
      "SWITCHYARD_WORKERS: must be an integer from 1 to 1024, got 'many'",
      "SWITCHYARD_SEMANTIC_CACHE: must be on or off, got 'maybe'",
      "SWITCHYARD_RATE_LIMIT_RPM: must be an integer from 1 up, got '-1'",
      "PORT: must be an integer from 0 to 65535, got 'http'",
      "LOG_LEVEL: 'loud' is not one of fatal, error, warn, info, debug, trace, silent",
      "SWITCHYARD_RATE_LIMIT_STORE: 'postgres' is not one of memory, redis",
      "SWITCHYARD_CACHE: 'disk' is not one of off, memory, redis",
      "SWITCHYARD_SEMANTIC_THRESHOLD: must be a number above 0 and at most 1, got '2'",
    ]);
  });

  it('needs AZURE_OPENAI_ENDPOINT with AZURE_OPENAI_API_KEY, unless the config file gives the endpoint', () => {
    expect(issuesOf(() => loadConfig({ AZURE_OPENAI_API_KEY: 'azure-key' }))).toEqual([
      'AZURE_OPENAI_ENDPOINT: is required when AZURE_OPENAI_API_KEY is set (https://<resource>.openai.azure.com)',
    ]);
    const path = writeConfig('azure.yaml', 'providers:\n  - type: azure\n    apiKey: ${AZURE_OPENAI_API_KEY}\n    endpoint: https://resource.openai.azure.com\n');
    expect(loadConfig({ SWITCHYARD_CONFIG: path, AZURE_OPENAI_API_KEY: 'azure-key' }).config.providers).toEqual([
      { type: 'azure', apiKey: 'azure-key', endpoint: 'https://resource.openai.azure.com' },
    ]);
  });

  it('needs REDIS_URL for a Redis cache, naming the field and the variable', () => {
    expect(issuesOf(() => loadConfig({ SWITCHYARD_CACHE: 'redis' }))).toEqual(['cache.redisUrl: is required when store is redis (or set REDIS_URL)']);
  });
});

describe('config file and environment together', () => {
  it('reads SWITCHYARD_CONFIG first; the environment fills in what the file leaves unset', () => {
    const path = writeConfig(
      'merge.yaml',
      `server:
  port: 9100
providers:
  - type: openai
    baseURL: http://127.0.0.1:5/v1
  - type: openai-compatible
    id: local
    baseURL: http://127.0.0.1:6/v1
aliases:
  fast: openai/gpt-4o-mini
cache:
  ttlSeconds: 60
`,
    );
    const { config, configPath, providersFromEnvironment } = loadConfig({
      SWITCHYARD_CONFIG: path,
      PORT: '9200',
      HOST: '0.0.0.0',
      OPENAI_API_KEY: 'openai-key',
      OPENAI_BASE_URL: 'http://127.0.0.1:7/v1',
      ANTHROPIC_API_KEY: 'anthropic-key',
      SWITCHYARD_CACHE: 'off',
      SWITCHYARD_CACHE_TTL_SECONDS: '999',
    });
    expect(configPath).toBe(path);
    // The file's port wins; the host it leaves unset comes from HOST.
    expect(config.server).toMatchObject({ port: 9100, host: '0.0.0.0' });
    // The file's openai entry takes the key from OPENAI_API_KEY but keeps its own base URL.
    expect(config.providers[0]).toEqual({ type: 'openai', apiKey: 'openai-key', baseURL: 'http://127.0.0.1:5/v1' });
    expect(config.providers[1]).toEqual({ type: 'openai-compatible', id: 'local', baseURL: 'http://127.0.0.1:6/v1' });
    // A provider the file does not define is added from the environment.
    expect(config.providers[2]).toEqual({ type: 'anthropic', apiKey: 'anthropic-key' });
    expect(providersFromEnvironment).toEqual(['anthropic']);
    expect(config.aliases).toEqual({ fast: 'openai/gpt-4o-mini' });
    expect(config.cache).toMatchObject({ store: 'off', ttlSeconds: 60 });
  });

  it('keeps a file provider whose id matches an environment provider of another type as the file wrote it', () => {
    const path = writeConfig('same-id.yaml', 'providers:\n  - type: openai-compatible\n    id: openai\n    baseURL: http://127.0.0.1:8/v1\n');
    const { config } = loadConfig({ SWITCHYARD_CONFIG: path, OPENAI_API_KEY: 'openai-key' });
    expect(config.providers).toEqual([{ type: 'openai-compatible', id: 'openai', baseURL: 'http://127.0.0.1:8/v1' }]);
  });

  it('interpolates the environment into the file, naming the field of an unset variable', () => {
    const path = writeConfig('secrets.yaml', 'providers:\n  - type: openai\n    apiKey: ${OPENAI_KEY}\n  - type: anthropic\n    apiKey: ${CLAUDE_KEY}\nserver:\n  port: ${GATEWAY_PORT:-9300}\n');
    const { config } = loadConfig({ SWITCHYARD_CONFIG: path, OPENAI_KEY: 'sk-1', CLAUDE_KEY: 'sk-2' });
    expect(config.providers.map((provider) => ('apiKey' in provider ? provider.apiKey : undefined))).toEqual(['sk-1', 'sk-2']);
    expect(config.server.port).toBe(9300);
    expect(issuesOf(() => loadConfig({ SWITCHYARD_CONFIG: path, OPENAI_KEY: 'sk-1' }))).toEqual([
      'providers[1].apiKey: the environment variable CLAUDE_KEY is not set (write ${CLAUDE_KEY:-default} to give a default)',
    ]);
  });

  it('reports a bad field of the file with its path', () => {
    const path = writeConfig('bad.yaml', 'providers:\n  - type: echo\n  - type: openai\n    apiKey: ""\n');
    let caught: unknown;
    try {
      loadConfig({ SWITCHYARD_CONFIG: path });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(`Invalid configuration (${path}):\n  providers[1].apiKey: must not be empty`);
  });

  it('lets command-line overrides win over the file and the environment', () => {
    const path = writeConfig('overrides.yaml', 'server:\n  port: 9100\n  host: 10.0.0.1\ncluster:\n  workers: 2\n');
    const { config } = loadConfig({ SWITCHYARD_CONFIG: join(directory, 'not-read.yaml'), PORT: '9200' }, { configPath: path, port: 0, host: '127.0.0.2', workers: 'auto' });
    expect(config.server).toMatchObject({ port: 0, host: '127.0.0.2' });
    expect(config.cluster.workers).toBe('auto');
  });

  it('resolves paths in the file against the file, and leaves memory:// and environment paths alone', () => {
    const path = writeConfig('paths.yaml', 'billing:\n  dataDir: data\n  spillDir: /abs/spill\n  litellmPrices: [prices.json, /abs/prices.json]\n');
    expect(loadConfig({ SWITCHYARD_CONFIG: path }).config.billing).toMatchObject({ dataDir: join(directory, 'data'), spillDir: '/abs/spill', litellmPrices: [join(directory, 'prices.json'), '/abs/prices.json'] });
    const memory = writeConfig('memory.yaml', 'billing:\n  dataDir: memory://\n');
    expect(loadConfig({ SWITCHYARD_CONFIG: memory }).config.billing.dataDir).toBe('memory://');
    expect(loadConfig({ SWITCHYARD_DATA_DIR: 'relative/data' }).config.billing.dataDir).toBe('relative/data');
  });
});

describe('mergeConfigInputs', () => {
  it('leaves a malformed providers section for validation to report', () => {
    expect(mergeConfigInputs({ providers: 'openai' }, { providers: [{ type: 'openai', apiKey: 'k' }] }).providers).toBe('openai');
  });

  it('fills nested sections field by field and never replaces lists', () => {
    expect(
      mergeConfigInputs(
        { server: { cors: { origins: ['https://a.example.com'] } }, rateLimit: { defaults: { rpm: 5 } } },
        { server: { cors: { origins: '*' }, port: 1 }, rateLimit: { defaults: { rpm: 60, tpm: 1000 }, redisUrl: 'redis://r' } },
      ),
    ).toEqual({ server: { cors: { origins: ['https://a.example.com'] }, port: 1 }, rateLimit: { defaults: { rpm: 5, tpm: 1000 }, redisUrl: 'redis://r' } });
  });
});

describe('workerCount', () => {
  it('is one per core for auto', () => {
    expect(workerCount('auto')).toBe(availableParallelism());
    expect(workerCount(3)).toBe(3);
  });
});
