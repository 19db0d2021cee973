import type { MockUpstream } from '@switchyard/providers/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingServer, removeDirectory, startBillingServer, startMockProvider, temporaryDirectory } from './billing-helpers.js';

/** The embedded store keeps every key and every ledger row across a restart, with no server to run. */
describe('billing: the embedded store survives a restart', () => {
  let upstream: MockUpstream;
  let directory: string;
  let billing: BillingServer | undefined;

  beforeAll(async () => {
    upstream = await startMockProvider();
    directory = temporaryDirectory();
  });

  afterAll(async () => {
    await billing?.close();
    await upstream?.close();
    removeDirectory(directory);
  });

  it('keeps every row, the keys and their spend', async () => {
    billing = await startBillingServer({ upstream, directory });
    const created = await billing.admin('POST', '/admin/keys', { name: 'durable', max_budget_usd: 5 });
    const restricted = await billing.admin('POST', '/admin/keys', { name: 'restricted', models: ['openai/gpt-4o'] });
    const client = billing.client(created.body.key);
    const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];
    const requests: Array<Promise<unknown>> = [];
    for (let index = 0; index < 10; index++) requests.push(client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 300 }));
    for (let index = 0; index < 5; index++) {
      requests.push(
        client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 300, stream: true }).then(async (stream) => {
          for await (const _chunk of stream);
        }),
      );
    }
    for (let index = 0; index < 3; index++) requests.push(client.chat.completions.create({ model: 'openai/gpt-4o-mini-bad', messages, max_tokens: 300 }).catch(() => undefined));
    for (let index = 0; index < 2; index++) requests.push(billing.client(restricted.body.key).chat.completions.create({ model: 'openai/gpt-4o-mini', messages }).catch(() => undefined));
    await Promise.all(requests);
    // Closing right away: the rows still batched must be written by the graceful shutdown.
    const pendingAtClose = billing.server.billing!.ledger.pending + billing.server.billing!.ledger.written;
    expect(pendingAtClose).toBe(20);
    await billing.close();
    billing = undefined;

    billing = await startBillingServer({ upstream, directory });
    const rows = (await billing.admin('GET', `/admin/requests?key_id=${created.body.id}&limit=1000`)).body.data as any[];
    expect(rows).toHaveLength(18);
    expect(rows.filter((row) => row.outcome === 'success')).toHaveLength(15);
    expect(rows.filter((row) => row.outcome === 'error')).toHaveLength(3);
    const refusedRows = (await billing.admin('GET', `/admin/requests?key_id=${restricted.body.id}`)).body.data as any[];
    expect(refusedRows).toHaveLength(2);

    const key = (await billing.admin('GET', `/admin/keys/${created.body.id}`)).body;
    expect(key.spend_usd).toBeCloseTo(15 * 0.003, 10);
    expect(key.reserved_usd).toBe(0);
    const report = await billing.admin('GET', `/admin/usage?key_id=${created.body.id}&group_by=day`);
    expect(report.body.totals).toMatchObject({ requests: 18, errors: 3, prompt_tokens: 15_000, completion_tokens: 3_000 });
    // The same secret still works after the restart.
    await billing.client(created.body.key).chat.completions.create({ model: 'openai/gpt-4o-mini', messages, max_tokens: 300 });
  });
});
