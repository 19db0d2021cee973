import { type ChatCompletion, createGateway, type Gateway, type Plugin, type RequestContext, silentLogger } from '@switchyard/core';
import { createEchoProvider } from '@switchyard/providers';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingPlugin, createBillingPlugin } from './billing-plugin.js';
import type { VirtualKey } from './store/billing-store.js';

/** What a plugin registered after billing saw of the request. */
interface Seen {
  operation: string;
  virtualKey: VirtualKey | undefined;
  reservedUsd: number | undefined;
}

describe('billing plugin in a gateway', () => {
  let gateway: Gateway;
  let billing: BillingPlugin;
  let url: string;
  const seen: Seen[] = [];
  const masterKey = 'sk-master-plugin-test';

  // Registered after billing: reads the key the way the rate-limit and cache plugins do.
  const probe: Plugin = {
    name: 'probe',
    dependencies: ['billing'],
    async onRequest(context: RequestContext) {
      const key = context.state.virtualKey;
      const reservedUsd = key ? (await billing.store.getKey(key.id, Date.now()))!.reserved_usd : undefined;
      seen.push({ operation: context.operation, virtualKey: key, reservedUsd });
    },
  };
  // Answers early, as a cache hit would.
  const fakeCache: Plugin = {
    name: 'cache',
    onRequest(context: RequestContext) {
      if (context.headers['x-test-cache'] !== 'hit') return undefined;
      const response: ChatCompletion = {
        id: 'chatcmpl-cached',
        object: 'chat.completion',
        created: 0,
        model: 'echo',
        choices: [{ index: 0, message: { role: 'assistant', content: 'cached', refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
      };
      context.target = context.resolveModel('demo/echo');
      return { response, headers: { 'x-cache': 'hit' } };
    },
  };

  beforeAll(async () => {
    billing = createBillingPlugin({
      store: { embedded: 'memory://' },
      masterKey,
      prices: { 'demo/echo': { input_per_million: 1, output_per_million: 4, max_output_tokens: 1000 } },
      ledger: { flushIntervalMs: 10 },
    });
    gateway = createGateway({ providers: [createEchoProvider()], plugins: [billing, probe, fakeCache], logger: silentLogger });
    url = (await gateway.listen()).url;
  });

  afterAll(async () => {
    await gateway?.close();
  });

  async function createKey(body: Record<string, unknown>) {
    const response = await fetch(`${url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; key: string };
  }

  it('puts the key record with its limits on the request for later plugins, on every endpoint', async () => {
    const created = await createKey({ name: 'limits', rpm: 10, tpm: 5000, max_concurrency: 2 });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: created.key, maxRetries: 0 });
    seen.length = 0;
    await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }] });
    await client.models.list();
    await client.embeddings.create({ model: 'demo/echo', input: 'hi' });
    expect(seen.map((entry) => entry.operation)).toEqual(['chat', 'models', 'embeddings']);
    for (const entry of seen) expect(entry.virtualKey).toMatchObject({ id: created.id, rpm: 10, tpm: 5000, max_concurrency: 2 });
    expect(JSON.stringify(seen)).not.toContain(created.key);
  });

  it('holds the worst case while the request runs and settles to the real cost', async () => {
    const created = await createKey({ name: 'reserve', max_budget_usd: 1 });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: created.key, maxRetries: 0 });
    seen.length = 0;
    const { response } = await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 50 }).withResponse();
    // 3 + 4 framing + 11 bytes of prompt at $1/M, 50 output tokens at $4/M.
    expect(seen[0]!.reservedUsd).toBeCloseTo((18 * 1 + 50 * 4) / 1e6, 12);
    const cost = Number(response.headers.get('x-switchyard-cost-usd'));
    expect(cost).toBeGreaterThan(0);
    await billing.ledger.flush();
    const key = await billing.store.getKey(created.id, Date.now());
    expect(key).toMatchObject({ reserved_usd: 0, spend_usd: cost });
  });

  it('records a cache hit at zero cost and releases its reservation', async () => {
    const created = await createKey({ name: 'cached', max_budget_usd: 1 });
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json', 'x-test-cache': 'hit' },
      body: JSON.stringify({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache')).toBe('hit');
    expect(response.headers.get('x-switchyard-cost-usd')).toBe('0');
    await billing.ledger.flush();
    const rows = await billing.store.listRequests({ keyId: created.id, limit: 10 });
    expect(rows).toEqual([expect.objectContaining({ outcome: 'cache_hit', cache_hit: true, cost_usd: expect.stringMatching(/^0(\.0+)?$/), attempts: 0 })]);
    expect(await billing.store.getKey(created.id, Date.now())).toMatchObject({ reserved_usd: 0, spend_usd: 0 });
  });

  it('records every request once, with a row id of its own even when the client repeats x-request-id', async () => {
    const created = await createKey({ name: 'repeat' });
    for (let index = 0; index < 3; index++) {
      await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json', 'x-request-id': 'same-id' },
        body: JSON.stringify({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }] }),
      });
    }
    await billing.ledger.flush();
    const rows = await billing.store.listRequests({ keyId: created.id, limit: 10 });
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((entry) => entry.id)).size).toBe(3);
    expect(rows.every((entry) => entry.request_id === 'same-id')).toBe(true);
    expect((await billing.store.getKey(created.id, Date.now()))!.total_spend_usd).toBeCloseTo(3 * Number(rows[0]!.cost_usd), 12);
  });
});

describe('billing plugin with a master key shaped like a virtual key', () => {
  it('still takes the master key as a credential, and still checks other sk-sy- keys', async () => {
    const masterKey = `sk-sy-${'m'.repeat(43)}`;
    const billing = createBillingPlugin({ store: { embedded: 'memory://' }, masterKey, prices: { 'demo/echo': { input_per_million: 1, output_per_million: 4 } } });
    const gateway = createGateway({ providers: [createEchoProvider()], plugins: [billing], logger: silentLogger });
    try {
      const { url } = await gateway.listen();
      const asMaster = new OpenAI({ baseURL: `${url}/v1`, apiKey: masterKey, maxRetries: 0 });
      const answer = await asMaster.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }] });
      expect(answer.choices[0]!.message.content).toBeTruthy();
      const stranger = new OpenAI({ baseURL: `${url}/v1`, apiKey: `sk-sy-${'x'.repeat(43)}`, maxRetries: 0 });
      await expect(stranger.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    } finally {
      await gateway.close();
    }
  });
});
