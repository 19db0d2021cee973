import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BillingStore, openPostgres, type SqlClient } from '@switchyard/plugin-billing';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingServer, type MockAnswer, removeDirectory, startBillingServer, startMockProvider, waitFor } from './billing-helpers.js';

const databaseUrl = process.env.DATABASE_URL;

/**
 * A TCP proxy in front of PostgreSQL that the test can cut: `down()` drops every connection and refuses
 * new ones (the database is unreachable), `up()` lets them through again. The machine's PostgreSQL keeps
 * running for everyone else.
 */
async function startCuttableProxy(target: URL): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let isDown = false;
  const server: Server = createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    sockets.add(client);
    sockets.add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', forget).on('close', forget);
    upstream.on('error', forget).on('close', forget);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    down() {
      isDown = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const boundedAnswer: MockAnswer = { content: 'Paris.', usage: { prompt_tokens: 20, completion_tokens: 100, total_tokens: 120 } };
const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];
const worstCase = (37 * 2 + 100 * 8) / 1e6;
const realCost = (20 * 2 + 100 * 8) / 1e6;

describe.skipIf(!databaseUrl)('billing on PostgreSQL (DATABASE_URL)', () => {
  const schema = `billing_test_${randomBytes(6).toString('hex')}`;
  let upstream: MockUpstream;
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  /** Reaches the database through the proxy: it loses the database when the proxy is cut. */
  let first: BillingServer;
  /** A second gateway on the same database, connected directly. */
  let second: BillingServer;
  let direct: SqlClient;
  let store: BillingStore;

  beforeAll(async () => {
    upstream = await startMockProvider({ answer: boundedAnswer, responseDelayMs: 50 });
    const url = new URL(databaseUrl!);
    proxy = await startCuttableProxy(url);
    const proxied = new URL(databaseUrl!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    first = await startBillingServer({ upstream, env: { DATABASE_URL: proxied.toString(), SWITCHYARD_BILLING_SCHEMA: schema } });
    second = await startBillingServer({ upstream, env: { DATABASE_URL: databaseUrl!, SWITCHYARD_BILLING_SCHEMA: schema } });
    direct = openPostgres({ connectionString: databaseUrl! });
    store = new BillingStore(direct, schema);
  });

  afterAll(async () => {
    proxy?.up();
    await first?.close();
    await second?.close();
    await store?.dropSchema();
    await direct?.close();
    await proxy?.close();
    await upstream?.close();
    for (const server of [first, second]) if (server) removeDirectory(server.directory);
  });

  it('runs the migrations once, with an index on (key_id, created_at) and the daily roll-up table', async () => {
    const versions = await direct.query<{ version: number }>(`SELECT version FROM ${schema}.billing_migrations`);
    expect(versions.map((row) => Number(row.version))).toEqual([1]);
    const indexes = await direct.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'usage_ledger'`, [schema]);
    expect(indexes.map((row) => row.indexdef).join('\n')).toContain('(key_id, created_at)');
    const tables = await direct.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
    expect(tables.map((row) => row.table_name)).toEqual(['billing_migrations', 'keys', 'reservations', 'usage_daily', 'usage_ledger']);
  });

  it('keeps one budget across two gateways: 200 concurrent requests split between them, spend never exceeds a budget that fits 50', async () => {
    const budget = Number((50 * worstCase).toFixed(10));
    const created = await first.admin('POST', '/admin/keys', { name: 'shared burst', max_budget_usd: budget });
    const clients = [first.client(created.body.key), second.client(created.body.key)];
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, index) =>
        clients[index % 2]!.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 }).then(
          () => 'admitted' as const,
          (error: InstanceType<typeof OpenAI.APIError>) => (error.status === 429 && error.code === 'insufficient_quota' ? ('rejected' as const) : error),
        ),
      ),
    );
    const admitted = outcomes.filter((outcome) => outcome === 'admitted').length;
    const rejected = outcomes.filter((outcome) => outcome === 'rejected').length;
    expect(admitted + rejected).toBe(200);
    expect(admitted).toBeGreaterThanOrEqual(50);
    await first.server.billing!.ledger.flush();
    await second.server.billing!.ledger.flush();
    const key = await store.getKey(created.body.id, Date.now());
    expect(key!.spend_usd).toBeLessThanOrEqual(budget);
    expect(key!.spend_usd).toBeCloseTo(admitted * realCost, 10);
    expect(key!.reserved_usd).toBe(0);
    expect(await store.countLedgerRows(created.body.id)).toBe(200);
    console.info(`two gateways on PostgreSQL: 200 requests, ${admitted} admitted, ${rejected} rejected; settled $${key!.spend_usd} of a $${budget} budget`);
  });

  it('loses no ledger row through a database outage: requests are served, rows are buffered, then written on recovery', async () => {
    const created = await first.admin('POST', '/admin/keys', { name: 'outage' });
    const budgeted = await first.admin('POST', '/admin/keys', { name: 'outage budget', max_budget_usd: 1 });
    const client = first.client(created.body.key);
    const budgetedClient = first.client(budgeted.body.key);
    // Both keys are looked up once while the database is reachable.
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 });
    await budgetedClient.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 });
    await first.server.billing!.ledger.flush();

    proxy.down();
    const served = await Promise.all(Array.from({ length: 20 }, () => client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 })));
    expect(served).toHaveLength(20);
    const streamed = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100, stream: true });
    for await (const _chunk of streamed);
    // A budget cannot be checked without the database: refused, retryable, and recorded all the same.
    const refused = await budgetedClient.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 100 }).catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('billing_unavailable');
    const ledger = first.server.billing!.ledger;
    await waitFor(async () => (ledger.failing ? true : undefined), 'a failed ledger write');
    expect(ledger.pending).toBe(22);
    expect(await store.countLedgerRows(created.body.id)).toBe(1);

    proxy.up();
    await waitFor(async () => (ledger.pending === 0 ? true : undefined), 'the buffered rows to be written');
    expect(await store.countLedgerRows(created.body.id)).toBe(22);
    expect(await store.countLedgerRows(budgeted.body.id)).toBe(2);
    const key = await store.getKey(created.body.id, Date.now());
    expect(key!.total_spend_usd).toBeCloseTo(22 * realCost, 10);
    // The report through the other gateway sees them too.
    const report = await second.admin('GET', `/admin/usage?key_id=${created.body.id}&group_by=model`);
    expect(report.body.totals).toMatchObject({ requests: 22, completion_tokens: 2200 });
  });
});
