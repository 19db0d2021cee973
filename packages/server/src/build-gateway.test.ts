import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Gateway, silentLogger } from '@switchyard/core';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, createPlugins, pluginList } from './build-gateway.js';
import { ConfigError, type GatewayConfigInput, parseGatewayConfig } from './config-schema.js';
import { checkModelReferences } from './model-references.js';
import { billingOptions, cacheOptions, catalogModelFacts, catalogPrice, rateLimitOptions } from './plugin-options.js';
import { createProvider, createProviders } from './providers.js';
import { startMockOpenAI } from './test-support/mock-openai.js';

const config = (input: GatewayConfigInput) => parseGatewayConfig(input);

describe('providers from the configuration', () => {
  it('creates each provider type under its id, with its model prefixes', () => {
    const cases: Array<[GatewayConfigInput['providers'], string, readonly string[] | undefined]> = [
      [[{ type: 'openai', apiKey: 'k' }], 'openai', ['gpt-', 'chatgpt-', 'o1', 'o3', 'o4', 'text-embedding-', 'omni-']],
      [[{ type: 'deepseek', apiKey: 'k', id: 'deepseek-eu' }], 'deepseek-eu', ['deepseek-']],
      [[{ type: 'groq', apiKey: 'k', modelPrefixes: ['llama-'] }], 'groq', ['llama-']],
      [[{ type: 'ollama' }], 'ollama', []],
      [[{ type: 'openai-compatible', id: 'vllm', baseURL: 'http://127.0.0.1:8000/v1', modelPrefixes: ['qwen'] }], 'vllm', ['qwen']],
      [[{ type: 'anthropic', apiKey: 'k' }], 'anthropic', ['claude-']],
      [[{ type: 'anthropic', apiKey: 'k', id: 'claude-proxy', modelPrefixes: [] }], 'claude-proxy', []],
      [[{ type: 'gemini', apiKey: 'k' }], 'gemini', ['gemini-']],
      [[{ type: 'azure', apiKey: 'k', resourceName: 'r', modelPrefixes: ['gpt-'] }], 'azure', ['gpt-']],
      [[{ type: 'echo' }], 'demo', undefined],
    ];
    for (const [providers, id, prefixes] of cases) {
      const [spec] = config({ providers }).providers;
      const provider = createProvider(spec!);
      expect(provider.id).toBe(id);
      expect(provider.modelPrefixes ?? undefined).toEqual(prefixes);
      void provider.close?.();
    }
  });

  it('serves the built-in demo/echo model when nothing is configured', () => {
    const { providers, demo } = createProviders(config({}));
    expect(demo).toBe(true);
    expect(providers.map((provider) => provider.id)).toEqual(['demo']);
    expect(createProviders(config({ providers: [{ type: 'echo', id: 'echo' }] })).demo).toBe(false);
  });

  it('names the entry a provider refuses to be created from', () => {
    let caught: unknown;
    try {
      createProviders(config({ providers: [{ type: 'echo' }, { type: 'azure', apiKey: 'k', resourceName: 'not a host' }] }));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues).toEqual([{ path: 'providers[1]', message: expect.stringContaining('is not a URL') }]);
  });
});

describe('plugins from the configuration', () => {
  const names = (input: GatewayConfigInput) => pluginList(createPlugins(config(input))).map((plugin) => plugin.name);

  it('runs billing, rate limits, cache, fallback and observability in that order, leaving out what is off', () => {
    expect(names({})).toEqual(['cache', 'fallback', 'observability']);
    expect(names({ cache: { store: 'off' } })).toEqual(['fallback', 'observability']);
    expect(names({ rateLimit: { anonymous: { rpm: 10 } } })).toEqual(['ratelimit', 'cache', 'fallback', 'observability']);
    // Virtual keys carry their own limits, so billing brings rate limiting with it.
    expect(names({ billing: { dataDir: 'memory://' } })).toEqual(['billing', 'ratelimit', 'cache', 'fallback', 'observability']);
  });

  it('limits only what is configured, on Redis when a Redis URL is known', () => {
    expect(rateLimitOptions(config({}))).toBeUndefined();
    expect(rateLimitOptions(config({ rateLimit: { models: { 'openai/gpt-4o': {} } } }))).toBeUndefined();
    expect(rateLimitOptions(config({ rateLimit: { defaults: { rpm: 60 } } }))).toEqual({ store: 'memory', defaults: { rpm: 60 } });
    expect(rateLimitOptions(config({ rateLimit: { defaults: { rpm: 60 }, redisUrl: 'redis://127.0.0.1:6379', failurePolicy: 'closed' } }))).toMatchObject({
      store: { redis: { url: 'redis://127.0.0.1:6379', failurePolicy: 'closed' } },
    });
    expect(rateLimitOptions(config({ rateLimit: { defaults: { rpm: 60 }, redisUrl: 'redis://127.0.0.1:6379', store: 'memory' } }))!.store).toBe('memory');
  });

  it('turns cache seconds into the plugin’s milliseconds and passes the semantic options when enabled', () => {
    expect(cacheOptions(config({ cache: { store: 'off' } }))).toBeUndefined();
    expect(cacheOptions(config({}))).toEqual({ store: 'memory', ttlMs: 3_600_000, coalesce: true, semantic: false });
    expect(
      cacheOptions(config({ cache: { store: 'redis', redisUrl: 'redis://r:6379', ttlSeconds: 60, maxTtlSeconds: 600, scopeHeader: 'x-tenant-id', semantic: { enabled: true, threshold: 0.85 } } })),
    ).toEqual({ store: { redis: { url: 'redis://r:6379' } }, ttlMs: 60_000, maxTtlMs: 600_000, coalesce: true, scopeHeader: 'x-tenant-id', semantic: { embedder: 'local', threshold: 0.85 } });
  });

  describe('billing', () => {
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-billing-options-'));
    afterAll(() => rmSync(directory, { recursive: true, force: true }));

    it('is off without a master key, a database or a data directory', () => {
      expect(billingOptions(config({}))).toBeUndefined();
    });

    it('keeps keys in PostgreSQL, in the data directory, or in .data/switchyard when there is only a master key', () => {
      expect(billingOptions(config({ billing: { databaseUrl: 'postgres://db/switchyard', masterKey: 'sk-m' } }))).toMatchObject({
        store: { postgres: 'postgres://db/switchyard' },
        masterKey: 'sk-m',
        ledger: { spillDirectory: join('.data/switchyard', 'unsent') },
      });
      expect(billingOptions(config({ billing: { masterKey: 'sk-m' } }))).toMatchObject({ store: { embedded: '.data/switchyard' } });
      expect(billingOptions(config({ billing: { dataDir: '/srv/data', spillDir: '/srv/spill' } }))).toMatchObject({ store: { embedded: '/srv/data' }, ledger: { spillDirectory: '/srv/spill' } });
      // A throwaway store has nowhere to spill to.
      expect(billingOptions(config({ billing: { dataDir: 'memory://' } }))!.ledger).toEqual({});
    });

    it('passes prices, LiteLLM price files and catalog prices', () => {
      const prices = join(directory, 'prices.json');
      writeFileSync(prices, JSON.stringify({ 'my-model': { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002, litellm_provider: 'openai' } }));
      const options = billingOptions(config({ billing: { dataDir: 'memory://', prices: { 'openai/gpt-4o': { input_per_million: 1, output_per_million: 2 } }, litellmPrices: prices, defaultMaxOutputTokens: 2048 } }))!;
      expect(options.prices).toEqual({ 'openai/gpt-4o': { input_per_million: 1, output_per_million: 2 } });
      expect(options.litellmPrices).toEqual([{ 'my-model': { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002, litellm_provider: 'openai' } }]);
      expect(options.catalog).toBe(catalogPrice);
      expect(options.defaultMaxOutputTokens).toBe(2048);
      expect(billingOptions(config({ billing: { dataDir: 'memory://', catalogPrices: false } }))!.catalog).toBeUndefined();
    });

    it('names the price file it cannot read', () => {
      const missing = join(directory, 'missing.json');
      expect(() => billingOptions(config({ billing: { dataDir: 'memory://', litellmPrices: [missing] } }))).toThrow(ConfigError);
      try {
        billingOptions(config({ billing: { dataDir: 'memory://', litellmPrices: [missing] } }));
      } catch (error) {
        expect((error as ConfigError).issues[0]).toEqual({ path: 'billing.litellmPrices[0]', message: expect.stringContaining(`cannot read '${missing}'`) });
      }
    });
  });
});

describe('model catalog facts', () => {
  it('gives fallback the context window and list prices of known models, by gateway name', () => {
    const facts = catalogModelFacts('openai/gpt-4o-mini');
    expect(facts?.contextWindow).toBeGreaterThan(100_000);
    expect(facts?.inputPrice).toBeGreaterThan(0);
    expect(facts?.outputPrice).toBeGreaterThan(facts!.inputPrice!);
    // Azure deployments named after OpenAI models, and bare names, are found too.
    expect(catalogModelFacts('azure/gpt-4o-mini')).toEqual(facts);
    expect(catalogModelFacts('gpt-4o-mini')).toEqual(facts);
    expect(catalogModelFacts('local/unknown-model')).toBeUndefined();
  });

  it('gives billing per-token list prices', () => {
    const price = catalogPrice({ model: 'openai/gpt-4o-mini', modelId: 'gpt-4o-mini', providerId: 'openai' });
    const facts = catalogModelFacts('openai/gpt-4o-mini')!;
    expect(price?.inputPerToken).toBeCloseTo(facts.inputPrice! / 1_000_000, 15);
    expect(price?.outputPerToken).toBeCloseTo(facts.outputPrice! / 1_000_000, 15);
    expect(catalogPrice({ model: 'demo/echo', modelId: 'echo', providerId: 'demo' })).toBeUndefined();
  });
});

describe('checkModelReferences', () => {
  it('reports aliases, group targets and the embedding model no provider serves', () => {
    const checked = config({
      providers: [{ type: 'openai', apiKey: 'k' }],
      aliases: { fast: 'openai/gpt-4o-mini', bare: 'gpt-4o', lost: 'mistral/mistral-large' },
      fallback: { groups: { smart: { targets: [{ model: 'fast' }, { model: 'anthropic/claude-sonnet-4-5' }] } } },
      cache: { semantic: { enabled: true, embedder: 'cohere/embed' } },
    });
    expect(checkModelReferences(checked)).toEqual([
      { path: 'aliases.lost', message: "no configured provider serves 'mistral/mistral-large'" },
      { path: 'fallback.groups.smart.targets[1].model', message: "no configured provider serves 'anthropic/claude-sonnet-4-5'" },
      { path: 'cache.semantic.embedder', message: "no configured provider serves 'cohere/embed' (use 'local' or provider/model)" },
    ]);
    expect(checkModelReferences(config({ aliases: { try: 'demo/echo' } }))).toEqual([]);
  });
});

describe('the built gateway', () => {
  let upstream: MockUpstream;
  let gateway: Gateway;
  let url: string;

  beforeAll(async () => {
    upstream = await startMockOpenAI();
    ({ gateway } = buildGateway(
      config({
        server: { drainTimeoutMs: 1000 },
        providers: [{ type: 'openai', apiKey: 'upstream-key', baseURL: `${upstream.url}/v1` }, { type: 'echo' }],
        aliases: { fast: 'openai/gpt-4o-mini' },
        fallback: { groups: { sturdy: { strategy: 'ordered', targets: [{ model: 'openai/gpt-4o-fail' }, { model: 'demo/echo' }] } }, breaker: { consecutiveFailures: 1 }, retry: { attemptsPerTarget: 1 } },
      }),
      { logger: silentLogger },
    ));
    ({ url } = await gateway.listen(0, '127.0.0.1'));
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('serves aliases through the configured provider', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]!.message.content).toBe('Reply from gpt-4o-mini: hello');
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer upstream-key');
  });

  it('falls back within a group; observability sees each attempt and the breaker the failure opened', async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'sturdy', messages: [{ role: 'user', content: 'still there?' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: still there?');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    // Registered last, its upstream wrapper is the innermost: one failed OpenAI attempt, one answered by the echo provider.
    expect(metrics).toMatch(/switchyard_upstream_duration_seconds_count\{provider="openai",outcome="error"\} 1/);
    expect(metrics).toMatch(/switchyard_upstream_duration_seconds_count\{provider="demo",outcome="ok"\} 1/);
    // The fallback plugin's breaker states: one failure opens the breaker of openai/gpt-4o-fail (2 = open).
    expect(metrics).toMatch(/switchyard_circuit_breaker_state\{target="openai\/gpt-4o-fail"\} 2/);
    expect(metrics).toMatch(/switchyard_circuit_breaker_state\{target="demo\/echo"\} 0/);
  });

  it('caches identical requests in memory by default', async () => {
    const before = upstream.requests.length;
    const ask = () => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'cache me' }] }) });
    const first = await ask();
    await first.text();
    const second = await ask();
    expect(await second.json()).toMatchObject({ choices: [{ message: { content: 'Reply from gpt-4o-mini: cache me' } }] });
    expect(second.headers.get('x-switchyard-cache')).toBe('hit');
    expect(upstream.requests.length - before).toBe(1);
  });
});
