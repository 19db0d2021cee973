import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingServer, type MockAnswer, removeDirectory, startBillingServer, startMockProvider, testPrices } from './billing-helpers.js';

/** An answer whose usage stays within what the request allows: 20 prompt tokens, 100 output tokens. */
const boundedAnswer: MockAnswer = {
  content: 'Paris.',
  usage: { prompt_tokens: 20, completion_tokens: 100, total_tokens: 120 },
};

const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];
// The admission bound of that prompt: 3 + 4 framing tokens and 30 UTF-8 bytes.
const promptBound = 37;
/** Worst case at $2/M input and $8/M output with max_tokens 100; the real cost is 20 × 2 + 100 × 8 per million. */
const worstCase = (promptBound * 2 + 100 * 8) / 1e6;
const realCost = (20 * 2 + 100 * 8) / 1e6;

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(OpenAI.APIError);
  return outcome as InstanceType<typeof OpenAI.APIError>;
}

describe('billing: budgets and prepaid credits with reservation', () => {
  let upstream: MockUpstream;
  let billing: BillingServer;

  beforeAll(async () => {
    // Every answer takes 100 ms, so a burst of requests is really in flight at once.
    upstream = await startMockProvider({ answer: boundedAnswer, responseDelayMs: 100 });
    billing = await startBillingServer({
      upstream,
      config: {
        billing: { prices: testPrices },
        fallback: { groups: { smart: { strategy: 'ordered', targets: [{ model: 'openai/gpt-4o-mini' }, { model: 'openai/gpt-4o' }] } } },
      },
    });
  });

  afterAll(async () => {
    await billing?.close();
    await upstream?.close();
    if (billing) removeDirectory(billing.directory);
  });

  it('200 concurrent requests against a budget that fits 50: spend never exceeds it, every request is billed or refused', async () => {
    const budget = Number((50 * worstCase).toFixed(10));
    const created = await billing.admin('POST', '/admin/keys', { name: 'burst', max_budget_usd: budget });
    const client = billing.client(created.body.key);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        client.chat.completions
          .create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 })
          .withResponse()
          .then(
            ({ response }) => ({ ok: true as const, cost: Number(response.headers.get('x-switchyard-cost-usd')) }),
            (error: InstanceType<typeof OpenAI.APIError>) => ({ ok: false as const, status: error.status, code: error.code }),
          ),
      ),
    );
    const admitted = outcomes.filter((outcome) => outcome.ok);
    const rejected = outcomes.filter((outcome) => !outcome.ok);
    expect(admitted.length + rejected.length).toBe(200);
    for (const refusal of rejected) expect(refusal).toEqual({ ok: false, status: 429, code: 'insufficient_quota' });
    for (const success of admitted) expect(success.cost).toBe(realCost);
    // All 200 were in flight together, so exactly the 50 worst cases that fit were admitted.
    expect(admitted.length).toBeGreaterThanOrEqual(50);
    expect(admitted.length).toBeLessThanOrEqual(51);

    const key = (await billing.admin('GET', `/admin/keys/${created.body.id}`)).body;
    expect(key.spend_usd).toBeLessThanOrEqual(budget);
    expect(key.spend_usd).toBeCloseTo(admitted.length * realCost, 10);
    expect(key.reserved_usd).toBe(0);

    const rows = (await billing.admin('GET', `/admin/requests?key_id=${created.body.id}&limit=1000`)).body.data as any[];
    expect(rows).toHaveLength(200);
    expect(rows.filter((row) => row.outcome === 'success' && Number(row.cost_usd) === realCost)).toHaveLength(admitted.length);
    expect(rows.filter((row) => row.outcome === 'rejected' && row.error_code === 'insufficient_quota' && Number(row.cost_usd) === 0)).toHaveLength(rejected.length);
    console.info(`concurrency: 200 requests, ${admitted.length} admitted, ${rejected.length} rejected; settled $${key.spend_usd} of a $${budget} budget`);

    // The remaining budget fits no worst case now, but a cheaper request still fits when it does.
    const remaining = budget - key.spend_usd;
    expect(key.budget_remaining_usd).toBeCloseTo(remaining, 10);
  });

  it('refuses a request whose worst case does not fit with 429 insufficient_quota, then admits it once the budget is raised', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'small budget', max_budget_usd: 0.01, budget_period: 'monthly' });
    expect(created.body.period_ends_at).toMatch(/-01T00:00:00.000Z$/);
    const client = billing.client(created.body.key);
    // Without max_tokens the reservation assumes 4096 output tokens: $0.0328, more than the budget.
    const refused = await failure(client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages }));
    expect(refused.status).toBe(429);
    expect(refused.code).toBe('insufficient_quota');
    expect(refused.type).toBe('insufficient_quota');
    expect(refused.message).toContain('monthly');
    expect(refused.headers?.get('x-should-retry')).toBe('false');
    // With a limit the worst case fits.
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 });
    await billing.admin('PATCH', `/admin/keys/${created.body.id}`, { max_budget_usd: 1 });
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages });
    const key = (await billing.admin('GET', `/admin/keys/${created.body.id}`)).body;
    expect(key.spend_usd).toBeCloseTo(2 * realCost, 10);
    expect(key.total_spend_usd).toBeCloseTo(2 * realCost, 10);
  });

  it('spends prepaid credits, refuses when they cannot cover the worst case, and resumes after a top-up', async () => {
    const created = await billing.admin('POST', '/admin/keys', { name: 'prepaid' });
    const credited = await billing.admin('POST', `/admin/keys/${created.body.id}/credits`, { amount_usd: 0.002 });
    expect(credited.status).toBe(200);
    expect(credited.body).toMatchObject({ prepaid: true, credits_usd: 0.002, credits_granted_usd: 0.002 });
    const client = billing.client(created.body.key);
    const ask = () => client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 });
    await ask();
    await ask();
    // $0.002 − 2 × $0.00084 leaves $0.00032, less than the $0.000874 worst case.
    const refused = await failure(ask());
    expect(refused.status).toBe(429);
    expect(refused.code).toBe('insufficient_quota');
    expect(refused.message).toContain('credits');
    const drained = (await billing.admin('GET', `/admin/keys/${created.body.id}`)).body;
    expect(drained.credits_usd).toBeCloseTo(0.002 - 2 * realCost, 10);
    expect(drained.total_spend_usd).toBeCloseTo(2 * realCost, 10);

    const overdraw = await billing.admin('POST', `/admin/keys/${created.body.id}/credits`, { amount_usd: -1 });
    expect(overdraw.status).toBe(400);
    expect(overdraw.body.error.param).toBe('amount_usd');
    await billing.admin('POST', `/admin/keys/${created.body.id}/credits`, { amount_usd: 5 });
    await ask();
    const after = (await billing.admin('GET', `/admin/keys/${created.body.id}`)).body;
    expect(after.credits_usd).toBeCloseTo(5.002 - 3 * realCost, 10);
    expect(after.credits_granted_usd).toBeCloseTo(5.002, 10);
  });

  it('reserves for the dearest model a fallback group may serve', async () => {
    // Enough for gpt-4o-mini's worst case (max_tokens 100) but not for gpt-4o's ($20/M output).
    const created = await billing.admin('POST', '/admin/keys', { name: 'group', max_budget_usd: 0.0015 });
    const client = billing.client(created.body.key);
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 });
    const refused = await failure(client.chat.completions.create({ model: 'smart', messages, max_tokens: 100 }));
    expect(refused.status).toBe(429);
    expect(refused.code).toBe('insufficient_quota');
  });

  it('allows a fallback group only when the key may use the group or every model in it', async () => {
    const miniOnly = await billing.admin('POST', '/admin/keys', { name: 'mini only', models: ['openai/gpt-4o-mini'] });
    const refused = await failure(billing.client(miniOnly.body.key).chat.completions.create({ model: 'smart', messages, max_tokens: 100 }));
    expect(refused.status).toBe(403);
    expect(refused.code).toBe('model_not_allowed');
    expect(refused.message).toContain('openai/gpt-4o');
    const group = await billing.admin('POST', '/admin/keys', { name: 'group allowed', models: ['smart'] });
    await billing.client(group.body.key).chat.completions.create({ model: 'smart', messages, max_tokens: 100 });
  });

  it('keeps budgeted keys off models without a price', async () => {
    const budgeted = await billing.admin('POST', '/admin/keys', { name: 'budgeted', max_budget_usd: 1 });
    const refused = await failure(billing.client(budgeted.body.key).chat.completions.create({ model: 'openai/unpriced-model', messages }));
    expect(refused.status).toBe(403);
    expect(refused.code).toBe('model_not_priced');
    const unlimited = await billing.admin('POST', '/admin/keys', { name: 'unlimited' });
    const { response } = await billing.client(unlimited.body.key).chat.completions.create({ model: 'openai/unpriced-model', messages }).withResponse();
    expect(response.headers.get('x-switchyard-cost-usd')).toBe('0');
  });
});
