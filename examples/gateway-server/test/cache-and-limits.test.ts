import { silentLogger } from '@switchyard/core';
import { type MockUpstream, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/server.js';

let upstream: MockUpstream;
let server: StartedServer;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startMockUpstream((request, response) =>
    sendJson(response, 200, {
      id: `chatcmpl-${upstream.requests.length}`,
      object: 'chat.completion',
      created: 1,
      model: (request.json as { model: string }).model,
      choices: [{ index: 0, message: { role: 'assistant', content: `answer ${upstream.requests.length}`, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
    }),
  );
  server = await startServer(
    {
      PORT: '0',
      OPENAI_API_KEY: 'test',
      OPENAI_BASE_URL: `${upstream.url}/v1`,
      SWITCHYARD_SEMANTIC_CACHE: 'on',
      SWITCHYARD_RATE_LIMIT_RPM: '100',
    },
    silentLogger,
  );
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
  await upstream.close();
});

const ask = (content: string) => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user' as const, content }] });

describe('example server: cache and rate limits from the environment', () => {
  it('misses, hits, bypasses, and serves a reworded question from the semantic cache', async () => {
    const cacheHeader = async (content: string, headers: Record<string, string> = {}) =>
      (await client.chat.completions.create(ask(content), { headers }).withResponse()).response.headers.get('x-switchyard-cache');
    expect(await cacheHeader('What is the capital of France?')).toBe('miss');
    expect(await cacheHeader('What is the capital of France?')).toBe('hit');
    expect(await cacheHeader('What is the capital of France?', { 'cache-control': 'no-cache' })).toBe('bypass');
    expect(await cacheHeader('Which city is the capital of France?')).toBe('semantic-hit');
    expect(upstream.requests).toHaveLength(2);
  });

  it('sends OpenAI rate-limit headers', async () => {
    const { response } = await client.chat.completions.create(ask('limits')).withResponse();
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(Number(response.headers.get('x-ratelimit-remaining-requests'))).toBeLessThan(100);
  });

  it('serves Prometheus metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toContain('switchyard_cache_results_total');
  });
});
