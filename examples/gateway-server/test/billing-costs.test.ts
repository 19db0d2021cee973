import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingServer, removeDirectory, standardCostMini, startBillingServer, startMockProvider, waitFor } from './billing-helpers.js';

/**
 * Cost from real usage through the example server: the same request costs the same streamed or not, a
 * stream cut off by its client is billed for what it received, and every request lands in the ledger.
 */
describe('billing: prices, cost and the usage ledger', () => {
  let upstream: MockUpstream;
  let billing: BillingServer;
  let keyId: string;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startMockProvider();
    billing = await startBillingServer({ upstream });
    const created = await billing.admin('POST', '/admin/keys', { name: 'costs' });
    keyId = created.body.id;
    client = billing.client(created.body.key);
  });

  afterAll(async () => {
    await billing?.close();
    await upstream?.close();
    if (billing) removeDirectory(billing.directory);
  });

  const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];

  async function ledgerRows(forKey = keyId): Promise<any[]> {
    const listed = await billing.admin('GET', `/admin/requests?key_id=${forKey}&limit=1000`);
    expect(listed.status).toBe(200);
    return listed.body.data;
  }

  async function rowFor(requestId: string): Promise<any> {
    return waitFor(async () => (await ledgerRows()).find((row) => row.request_id === requestId), `the ledger row of ${requestId}`);
  }

  it('charges a JSON request from its usage and says so in x-switchyard-cost-usd', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages }).withResponse();
    expect(data.usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 200 });
    // 600 uncached input × $2/M + 400 cached × $0.5/M + 200 output (50 of them reasoning) × $8/M.
    expect(Number(response.headers.get('x-switchyard-cost-usd'))).toBeCloseTo(standardCostMini, 12);
    expect(response.headers.get('x-switchyard-cost-usd')).toBe('0.003');
    const row = await rowFor(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({
      key_id: keyId,
      operation: 'chat',
      model_requested: 'openai/gpt-4o-mini',
      model_served: 'openai/gpt-4o-mini',
      provider: 'openai',
      prompt_tokens: 1000,
      cached_tokens: 400,
      completion_tokens: 200,
      reasoning_tokens: 50,
      usage_estimated: false,
      status: 200,
      outcome: 'success',
      cache_hit: false,
      streamed: false,
      attempts: 1,
      error_type: null,
    });
    expect(Number(row.cost_usd)).toBe(0.003);
    expect(row.latency_ms).toBeGreaterThan(0);
  });

  it('costs the same streamed, with or without usage asked, and puts the cost on the usage chunk when asked', async () => {
    const withUsage = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = [];
    for await (const chunk of withUsage.data) chunks.push(chunk);
    const usageChunk = chunks.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect((usageChunk.usage as unknown as { cost_usd: number }).cost_usd).toBe(0.003);

    const withoutUsage = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, stream: true }).withResponse();
    const plainChunks = [];
    for await (const chunk of withoutUsage.data) plainChunks.push(chunk);
    // The gateway asked the provider for usage to bill it, but the client did not ask: it sees none.
    expect(plainChunks.some((chunk) => chunk.usage)).toBe(false);

    const streamedRow = await rowFor(withUsage.response.headers.get('x-request-id')!);
    const plainRow = await rowFor(withoutUsage.response.headers.get('x-request-id')!);
    for (const row of [streamedRow, plainRow]) {
      expect(row).toMatchObject({ streamed: true, outcome: 'success', status: 200, prompt_tokens: 1000, completion_tokens: 200, usage_estimated: false });
      expect(Number(row.cost_usd)).toBe(0.003);
      expect(row.time_to_first_token_ms).toBeGreaterThan(0);
      expect(row.time_to_first_token_ms).toBeLessThanOrEqual(row.latency_ms);
    }
  });

  it('counts tokens with a tokenizer when the provider reports none, the same streamed and not', async () => {
    const json = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-nousage', messages }).withResponse();
    const jsonCost = json.response.headers.get('x-switchyard-cost-usd');
    expect(Number(jsonCost)).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-nousage', messages, stream: true }).withResponse();
    for await (const _chunk of stream.data);
    const jsonRow = await rowFor(json.response.headers.get('x-request-id')!);
    const streamRow = await rowFor(stream.response.headers.get('x-request-id')!);
    expect(jsonRow.usage_estimated).toBe(true);
    expect(streamRow.usage_estimated).toBe(true);
    // "The capital of France is Paris." is 7 tokens in o200k; the prompt is its text plus message framing.
    expect(jsonRow.completion_tokens).toBe(7);
    expect(jsonRow.prompt_tokens).toBeGreaterThan(7);
    expect(streamRow).toMatchObject({ prompt_tokens: jsonRow.prompt_tokens, completion_tokens: jsonRow.completion_tokens, cost_usd: jsonRow.cost_usd });
    expect(Number(jsonRow.cost_usd)).toBeCloseTo((jsonRow.prompt_tokens * 2 + jsonRow.completion_tokens * 8) / 1e6, 12);
    expect(jsonRow.cost_usd).toBe(String(Number(jsonCost).toFixed(10)));
  });

  it('bills a client that disconnects mid-stream for what it had received', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-slow', messages, stream: true }, { signal: controller.signal }).withResponse();
    let received = '';
    let chunks = 0;
    try {
      for await (const chunk of stream.data) {
        received += chunk.choices[0]?.delta.content ?? '';
        if (++chunks === 25) controller.abort();
      }
    } catch (error) {
      expect(controller.signal.aborted).toBe(true);
    }
    const row = await rowFor(stream.response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ outcome: 'aborted', status: 499, streamed: true, usage_estimated: true });
    // At least what the client read; not the 400 chunks the provider would have sent.
    expect(row.completion_tokens).toBeGreaterThanOrEqual(received.split(' ').filter(Boolean).length);
    expect(row.completion_tokens).toBeLessThan(400);
    expect(Number(row.cost_usd)).toBeCloseTo((row.prompt_tokens * 2 + row.completion_tokens * 8) / 1e6, 12);
    expect(Number(row.cost_usd)).toBeGreaterThan(0);
    // The provider was told to stop.
    await waitFor(async () => (upstream.abortedRequests.length > 0 ? true : undefined), 'the upstream stream to be cancelled');
  });

  it('records failures and rejections: upstream errors, streams cut off midway, refused models', async () => {
    const restricted = await billing.admin('POST', '/admin/keys', { name: 'restricted', models: ['openai/gpt-4o-mini'] });
    const restrictedClient = billing.client(restricted.body.key);
    const refused = await restrictedClient.chat.completions.create({ model: 'openai/gpt-4o', messages }).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(refused.status).toBe(403);
    const refusedRows = await waitFor(async () => {
      const rows = await ledgerRows(restricted.body.id);
      return rows.length > 0 ? rows : undefined;
    }, 'the rejection row');
    expect(refusedRows[0]).toMatchObject({ outcome: 'rejected', status: 403, error_type: 'permission_error', error_code: 'model_not_allowed', attempts: 0, cost_usd: '0.0000000000', model_requested: 'openai/gpt-4o' });

    const bad = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-bad', messages }).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(bad.status).toBe(400);
    const badRow = await rowFor(bad.headers!.get('x-request-id')!);
    expect(badRow).toMatchObject({ outcome: 'error', status: 400, error_type: 'invalid_request_error', attempts: 1, model_served: 'openai/gpt-4o-mini-bad', cost_usd: '0.0000000000' });

    const cut = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-cutoff', messages, stream: true }).withResponse();
    await expect(async () => {
      for await (const _chunk of cut.data);
    }).rejects.toThrow();
    const cutRow = await rowFor(cut.response.headers.get('x-request-id')!);
    expect(cutRow).toMatchObject({ outcome: 'error', status: 502, streamed: true, usage_estimated: true });
    // The three chunks it sent ("The capital of ", 4 tokens in o200k) were generated and are billed.
    expect(cutRow.completion_tokens).toBe(4);
    expect(Number(cutRow.cost_usd)).toBeGreaterThan(0);

    const unauthenticated = await billing.client('sk-sy-' + 'z'.repeat(43)).chat.completions.create({ model: 'openai/gpt-4o-mini', messages }).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(unauthenticated.status).toBe(401);
    const requestId = unauthenticated.headers!.get('x-request-id')!;
    const anonymousRow = await waitFor(async () => {
      const rows = (await billing.admin('GET', '/admin/requests?limit=1000')).body.data as any[];
      return rows.find((row) => row.request_id === requestId);
    }, 'the 401 row');
    expect(anonymousRow).toMatchObject({ key_id: null, outcome: 'rejected', status: 401, error_code: 'invalid_api_key' });
  });

  it('charges embeddings by their input tokens', async () => {
    const { response } = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'hello world' }).withResponse();
    expect(Number(response.headers.get('x-switchyard-cost-usd'))).toBeCloseTo((8 * 0.02) / 1e6, 12);
    const row = await rowFor(response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ operation: 'embeddings', prompt_tokens: 8, completion_tokens: 0, outcome: 'success' });
  });

  it('reports usage by key, model and day, from the roll-up for whole days and the ledger otherwise, and agrees with the ledger', async () => {
    const rows = await ledgerRows();
    const expectedCost = rows.reduce((sum, row) => sum + Number(row.cost_usd), 0);
    const expectedPrompt = rows.reduce((sum, row) => sum + row.prompt_tokens, 0);

    const byModel = await billing.admin('GET', `/admin/usage?key_id=${keyId}&group_by=model`);
    expect(byModel.status).toBe(200);
    expect(byModel.body.source).toBe('daily_rollup');
    expect(byModel.body.totals.requests).toBe(rows.length);
    expect(byModel.body.totals.cost_usd).toBeCloseTo(expectedCost, 9);
    expect(byModel.body.totals.prompt_tokens).toBe(expectedPrompt);
    const mini = byModel.body.data.find((row: any) => row.model === 'openai/gpt-4o-mini');
    expect(mini.requests).toBe(rows.filter((row) => row.model_served === 'openai/gpt-4o-mini').length);

    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const byDay = await billing.admin('GET', `/admin/usage?key_id=${keyId}&group_by=day&from=${today}&to=${tomorrow}`);
    expect(byDay.body.data).toHaveLength(1);
    expect(byDay.body.data[0]).toMatchObject({ day: today, requests: rows.length });

    // A range that is not whole days reads the ledger itself; the figures agree.
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const exact = await billing.admin('GET', `/admin/usage?key_id=${keyId}&group_by=model&from=${from}&to=${to}`);
    expect(exact.body.source).toBe('ledger');
    expect(exact.body.totals).toEqual(byModel.body.totals);

    const byKey = await billing.admin('GET', '/admin/usage?group_by=key');
    expect(byKey.body.data.find((row: any) => row.key_id === keyId).requests).toBe(rows.length);

    const invalid = await billing.admin('GET', '/admin/usage?group_by=week');
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.param).toBe('group_by');
    expect((await billing.admin('GET', `/admin/usage?from=${tomorrow}&to=${today}`)).status).toBe(400);
  });

  it('shows a key its own usage at GET /v1/usage and nobody else\'s', async () => {
    const other = await billing.admin('POST', '/admin/keys', { name: 'other', max_budget_usd: 10 });
    await billing.client(other.body.key).chat.completions.create({ model: 'openai/gpt-4o-mini', messages });
    const own = await billing.admin('GET', '/v1/usage?group_by=model', undefined, other.body.key);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ key_id: other.body.id, totals: { requests: 1, cost_usd: 0.003 }, budget: { max_budget_usd: 10, spend_usd: 0.003 } });
    expect(own.body.budget.budget_remaining_usd).toBeCloseTo(9.997, 9);
    // The key_id parameter is the admin report's; a key cannot ask for another key's usage.
    expect((await billing.admin('GET', `/v1/usage?key_id=${keyId}`, undefined, other.body.key)).status).toBe(400);
    expect((await billing.admin('GET', '/v1/usage', undefined, '')).status).toBe(401);
  });
});
