import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillingStore, type LedgerRow, ledgerColumns, ledgerRowsJson } from './billing-store.js';
import { openPGlite } from './pglite-client.js';
import type { SqlClient } from './sql-client.js';

const at = (iso: string) => Date.parse(iso);

function row(id: string, keyId: string | null, cost: string, createdAt: string, overrides: Partial<LedgerRow> = {}): LedgerRow {
  return {
    id,
    request_id: `request-${id}`,
    key_id: keyId,
    operation: 'chat',
    model_requested: 'openai/gpt-4o-mini',
    model_served: 'openai/gpt-4o-mini',
    provider: 'openai',
    prompt_tokens: 10,
    cached_tokens: 0,
    cache_write_tokens: 0,
    completion_tokens: 5,
    reasoning_tokens: 0,
    usage_estimated: false,
    cost_usd: cost,
    latency_ms: 12.5,
    time_to_first_token_ms: null,
    status: 200,
    outcome: 'success',
    error_type: null,
    error_code: null,
    cache_hit: false,
    streamed: false,
    attempts: 1,
    created_at: createdAt,
    ...overrides,
  };
}

/** The store's statements on embedded PostgreSQL, with explicit times so periods can be crossed. */
describe('BillingStore', () => {
  let client: SqlClient;
  let store: BillingStore;
  let sequence = 0;

  async function newKey(fields: { maxBudgetUsd?: number | null; budgetPeriod?: 'none' | 'daily' | 'weekly' | 'monthly' } = {}, now = at('2026-01-14T10:00:00Z')) {
    sequence += 1;
    return store.createKey(
      {
        id: `key_test${sequence}`,
        name: `test ${sequence}`,
        keyHash: `hash-${sequence}`,
        keyPrefix: 'sk-sy-test',
        models: null,
        maxBudgetUsd: fields.maxBudgetUsd ?? null,
        budgetPeriod: fields.budgetPeriod ?? 'none',
        rpm: null,
        tpm: null,
        maxConcurrency: null,
        expiresAt: null,
        metadata: {},
      },
      now,
    );
  }

  beforeAll(async () => {
    client = await openPGlite('memory://');
    store = new BillingStore(client, 'billing_unit');
    await store.migrate();
    // Running the migrations again changes nothing.
    await store.migrate();
  });

  afterAll(async () => {
    await client?.close();
  });

  it('admits reservations only while spend, reservations and the new one fit the budget', async () => {
    const key = await newKey({ maxBudgetUsd: 1 });
    const now = at('2026-01-14T10:00:00Z');
    expect(await store.reserve(key.id, 'r1', '0.6', now)).toBe(true);
    expect(await store.reserve(key.id, 'r2', '0.5', now)).toBe(false);
    expect(await store.reserve(key.id, 'r3', '0.4', now)).toBe(true);
    expect(await store.reserve(key.id, 'r4', '0.0000000001', now)).toBe(false);
    // Settling r1 at $0.1 releases $0.5 of its hold.
    expect(await store.writeLedger([row('r1', key.id, '0.1', '2026-01-14T10:00:00Z')], now)).toBe(1);
    const after = await store.getKey(key.id, now);
    expect(after).toMatchObject({ spend_usd: 0.1, reserved_usd: 0.4, budget_remaining_usd: 0.5 });
    expect(await store.reserve(key.id, 'r5', '0.5', now)).toBe(true);
  });

  it('sends ledger rows as arrays in the order of the columns they are cast to', () => {
    const sample = row('order', 'key_1', '0.5', '2026-01-14T10:00:00.000Z', { time_to_first_token_ms: 3.25, error_type: 'server_error', error_code: 'upstream_error', usage_estimated: true, attempts: 2 });
    const [values] = JSON.parse(ledgerRowsJson([sample])) as unknown[][];
    expect(values).toEqual(ledgerColumns.map(([name]) => sample[name]));
    expect(ledgerColumns.map(([name]) => name).sort()).toEqual(Object.keys(sample).sort());
  });

  it('keeps every field of a ledger row as written', async () => {
    const key = await newKey();
    const now = at('2026-01-14T10:00:00Z');
    const written = row('every-field', key.id, '0.0000068', '2026-01-14T10:00:00.123Z', {
      operation: 'embeddings',
      model_requested: 'cheap "quoted" \\ model',
      prompt_tokens: 11,
      cached_tokens: 3,
      cache_write_tokens: 2,
      completion_tokens: 7,
      reasoning_tokens: 1,
      usage_estimated: true,
      latency_ms: 0.812,
      time_to_first_token_ms: 0.25,
      status: 502,
      outcome: 'error',
      error_type: 'server_error',
      error_code: 'upstream_error',
      cache_hit: true,
      streamed: true,
      attempts: 3,
    });
    expect(await store.writeLedger([written], now)).toBe(1);
    const [read] = (await store.listRequests({ keyId: key.id, limit: 5 })).filter((entry) => entry.id === 'every-field');
    expect({ ...read, cost_usd: Number(read!.cost_usd), created_at: Date.parse(read!.created_at) }).toMatchObject({
      ...written,
      cost_usd: 0.0000068,
      created_at: Date.parse(written.created_at),
    });
  });

  it('writes each ledger row once: a retried batch charges nothing twice', async () => {
    const key = await newKey();
    const now = at('2026-01-14T10:00:00Z');
    const batch = [row('once-1', key.id, '0.25', '2026-01-14T10:00:00Z'), row('once-2', key.id, '0.5', '2026-01-14T10:00:01Z')];
    expect(await store.writeLedger(batch, now)).toBe(2);
    expect(await store.writeLedger(batch, now)).toBe(0);
    expect(await store.writeLedger([...batch, row('once-3', key.id, '0.25', '2026-01-14T10:00:02Z')], now)).toBe(1);
    const after = await store.getKey(key.id, now);
    expect(after!.total_spend_usd).toBe(1);
    expect(await store.countLedgerRows(key.id)).toBe(3);
    const report = await store.usageReport({ keyId: key.id, groupBy: 'day' });
    expect(report.rows).toEqual([expect.objectContaining({ day: '2026-01-14', requests: 3, cost_usd: 1, prompt_tokens: 30, completion_tokens: 15 })]);
  });

  it('starts a daily budget over at UTC midnight, on reads and on writes', async () => {
    const key = await newKey({ maxBudgetUsd: 1, budgetPeriod: 'daily' });
    expect(key.period_ends_at).toBe('2026-01-15T00:00:00.000Z');
    const evening = at('2026-01-14T23:00:00Z');
    expect(await store.reserve(key.id, 'day-1', '0.9', evening)).toBe(true);
    await store.writeLedger([row('day-1', key.id, '0.9', '2026-01-14T23:00:00Z')], evening);
    expect(await store.reserve(key.id, 'day-2', '0.2', evening)).toBe(false);

    const nextMorning = at('2026-01-15T00:00:00Z');
    expect((await store.getKey(key.id, nextMorning))!).toMatchObject({ spend_usd: 0, total_spend_usd: 0.9, period_ends_at: expect.any(String) });
    expect(await store.reserve(key.id, 'day-3', '0.2', nextMorning)).toBe(true);
    await store.writeLedger([row('day-3', key.id, '0.2', '2026-01-15T00:00:00Z')], nextMorning);
    const after = await store.getKey(key.id, nextMorning);
    expect(after).toMatchObject({ spend_usd: 0.2, total_spend_usd: 1.1, reserved_usd: 0, period_ends_at: '2026-01-16T00:00:00.000Z' });
  });

  it('keeps credits and budget apart: credits cap reservations too, and are spent by settlement', async () => {
    const key = await newKey();
    const now = at('2026-01-14T10:00:00Z');
    expect((await store.addCredits(key.id, '0.5', now)).key).toMatchObject({ prepaid: true, credits_usd: 0.5 });
    expect(await store.reserve(key.id, 'c1', '0.6', now)).toBe(false);
    expect(await store.reserve(key.id, 'c2', '0.3', now)).toBe(true);
    await store.writeLedger([row('c2', key.id, '0.2', '2026-01-14T10:00:00Z')], now);
    expect(await store.getKey(key.id, now)).toMatchObject({ credits_usd: 0.3, credits_available_usd: 0.3, reserved_usd: 0 });
    expect(await store.addCredits(key.id, '-0.4', now)).toEqual({ insufficient: true });
    expect(await store.addCredits('key_missing', '1', now)).toEqual({});
  });

  it('raises a reservation only when the increase fits', async () => {
    const key = await newKey({ maxBudgetUsd: 1 });
    const now = at('2026-01-14T10:00:00Z');
    expect(await store.reserve(key.id, 'x1', '0.5', now)).toBe(true);
    expect(await store.extendReservation(key.id, 'x1', '0.6', now)).toBe(false);
    expect(await store.extendReservation(key.id, 'x1', '0.4', now)).toBe(true);
    expect((await store.getKey(key.id, now))!.reserved_usd).toBe(0.9);
    // A reservation that does not exist cannot be raised.
    expect(await store.extendReservation(key.id, 'x-missing', '0.01', now)).toBe(false);
  });

  it('releases reservations whose gateway never settled them, and still charges a late settlement', async () => {
    const key = await newKey({ maxBudgetUsd: 1 });
    const now = at('2026-01-14T10:00:00Z');
    expect(await store.reserve(key.id, 'stale', '0.7', now)).toBe(true);
    expect(await store.expireReservations(now + 1)).toBeGreaterThanOrEqual(1);
    expect((await store.getKey(key.id, now))!.reserved_usd).toBe(0);
    await store.writeLedger([row('stale', key.id, '0.3', '2026-01-14T10:00:00Z')], now);
    expect(await store.getKey(key.id, now)).toMatchObject({ reserved_usd: 0, spend_usd: 0.3 });
  });

  it('reports from the roll-up and from the ledger alike, and pages through requests', async () => {
    const key = await newKey();
    const now = at('2026-02-01T10:00:00Z');
    await store.writeLedger(
      [
        row('p1', key.id, '0.1', '2026-02-01T10:00:00Z'),
        row('p2', key.id, '0.2', '2026-02-01T11:00:00Z', { model_served: 'openai/gpt-4o', status: 500, outcome: 'error' }),
        row('p3', key.id, '0.3', '2026-02-02T09:00:00Z'),
      ],
      now,
    );
    const rollup = await store.usageReport({ keyId: key.id, groupBy: 'model', from: '2026-02-01T00:00:00.000Z', to: '2026-02-03T00:00:00.000Z' });
    const ledger = await store.usageReport({ keyId: key.id, groupBy: 'model', from: '2026-02-01T00:00:01.000Z', to: '2026-02-03T00:00:00.000Z' });
    expect(rollup.source).toBe('daily_rollup');
    expect(ledger.source).toBe('ledger');
    expect(ledger.rows).toEqual(rollup.rows);
    expect(rollup.rows).toEqual([
      expect.objectContaining({ model: 'openai/gpt-4o', requests: 1, errors: 1, cost_usd: 0.2 }),
      expect.objectContaining({ model: 'openai/gpt-4o-mini', requests: 2, errors: 0, cost_usd: 0.4 }),
    ]);
    const firstDay = await store.usageReport({ keyId: key.id, groupBy: 'day', from: '2026-02-01T00:00:00.000Z', to: '2026-02-02T00:00:00.000Z' });
    expect(firstDay.rows).toEqual([expect.objectContaining({ day: '2026-02-01', requests: 2 })]);

    const page1 = await store.listRequests({ keyId: key.id, limit: 2 });
    expect(page1.map((entry) => entry.id)).toEqual(['p3', 'p2']);
    const page2 = await store.listRequests({ keyId: key.id, limit: 2, before: 'p2' });
    expect(page2.map((entry) => entry.id)).toEqual(['p1']);
    expect(page1[1]).toMatchObject({ status: 500, outcome: 'error', latency_ms: 12.5, cost_usd: expect.stringMatching(/^0\.2/) });
  });

  it('refuses a schema name that is not a plain identifier', () => {
    expect(() => new BillingStore(client, 'public; DROP TABLE x')).toThrow(/identifier/);
  });
});
