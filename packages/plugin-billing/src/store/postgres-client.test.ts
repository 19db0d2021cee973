import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillingStore, type LedgerRow } from './billing-store.js';
import { openPostgres } from './postgres-client.js';
import type { SqlClient } from './sql-client.js';

const databaseUrl = process.env.DATABASE_URL;

function row(id: string, createdAt: string): LedgerRow {
  return {
    id, request_id: `request-${id}`, key_id: null, operation: 'chat', model_requested: 'openai/gpt-4o-mini', model_served: 'openai/gpt-4o-mini',
    provider: 'openai', prompt_tokens: 10, cached_tokens: 0, cache_write_tokens: 0, completion_tokens: 5, reasoning_tokens: 0, usage_estimated: false,
    cost_usd: '0.001', latency_ms: 12.5, time_to_first_token_ms: null, status: 200, outcome: 'success', error_type: null, error_code: null,
    cache_hit: false, streamed: false, attempts: 1, created_at: createdAt,
  };
}

/** The ledger write is a statement prepared per connection: it must stay correct across batches and schemas. */
describe.skipIf(!databaseUrl)('BillingStore on PostgreSQL', () => {
  let client: SqlClient;
  const schemas = [`ledger_a_${randomUUID().slice(0, 8)}`, `ledger_b_${randomUUID().slice(0, 8)}`];

  beforeAll(async () => {
    // Two connections, so both the preparing and the reusing path run on each.
    client = openPostgres({ connectionString: databaseUrl!, maxConnections: 2 });
  });

  afterAll(async () => {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await client?.close();
  });

  it('writes batch after batch into each schema through the same pool, each row once', async () => {
    const stores = schemas.map((schema) => new BillingStore(client, schema));
    for (const store of stores) await store.migrate();
    const now = Date.parse('2026-01-14T10:00:00Z');
    for (let batch = 0; batch < 4; batch++) {
      const written = await Promise.all(
        stores.map((store, index) => store.writeLedger([row(`${index}-${batch}-1`, '2026-01-14T10:00:00Z'), row(`${index}-${batch}-2`, '2026-01-14T10:00:01Z')], now)),
      );
      expect(written).toEqual([2, 2]);
    }
    // A batch written again (a retry after a lost answer) charges nothing twice, prepared or not.
    expect(await stores[0]!.writeLedger([row('0-0-1', '2026-01-14T10:00:00Z')], now)).toBe(0);
    expect(await Promise.all(stores.map((store) => store.countLedgerRows()))).toEqual([8, 8]);
  });
});
