/**
 * Redis and PostgreSQL going away under a steady load, on servers this test starts itself (never the
 * shared 6379/5432): the rate limiter follows its failure policy (open: answers continue; closed: 503s in
 * OpenAI's error shape, then 200s again once Redis is back), the cache falls back to the provider, the
 * usage ledger holds at most its cap in memory and loses no row, and nothing crashes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { type BillingPlugin, createBillingPlugin } from '@switchyard/plugin-billing';
import { createCachePlugin } from '@switchyard/plugin-cache';
import { createRateLimitPlugin, RedisRateLimitStore } from '@switchyard/plugin-ratelimit';
import { createOpenAICompatible } from '@switchyard/providers';
import { type MockUpstream, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalPostgres, LocalRedis } from './helpers/local-servers.js';

const model = 'mock/outage-model';
const masterKey = 'sk-master-outage-test';
/** Rows a gateway's ledger may hold in memory; small, so a few seconds of outage go past it. */
const maxPendingRows = 200;
const ledgerBatchSize = 50;
/** Requests in flight per gateway, all the time. */
const workersPerGateway = 4;
/** Growth allowed while PostgreSQL is down, over the level just before (the process also runs the load). */
const heapGrowthBoundBytes = 64 * 1024 * 1024;
const rssGrowthBoundBytes = 128 * 1024 * 1024;

const skipReason = LocalRedis.available() ?? LocalPostgres.available();
if (skipReason) console.warn(`store outage tests skipped: ${skipReason}`);

type Policy = 'open' | 'closed';
type Phase = 'before' | 'redis stopping' | 'redis down' | 'redis back' | 'postgres stopping' | 'postgres down' | 'postgres back';

interface Answer {
  gateway: Policy;
  /** The order the request was sent in, across both gateways. */
  sequence: number;
  /** The phase when the request was sent and when its answer had arrived. */
  sentIn: Phase;
  doneIn: Phase;
  status: number;
  /** The error object of a non-200 answer. */
  error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown };
  transportError?: string;
}

interface Subject {
  policy: Policy;
  gateway: Gateway;
  billing: BillingPlugin;
  rateLimitStore: RedisRateLimitStore;
  pool: Pool;
  keyId: string;
  key: string;
}

let redis: LocalRedis;
let postgres: LocalPostgres;
let upstream: MockUpstream;
let spillRoot: string;
const subjects: Subject[] = [];

describe.skipIf(skipReason)(`store outages under load${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    [redis, postgres] = await Promise.all([LocalRedis.start(), LocalPostgres.start()]);
    upstream = await startMockUpstream((recorded, response) => {
      const body = recorded.json as { stream?: boolean; messages: Array<{ content: string }> };
      if (body.stream === true) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        const frame = (delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, number>) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-o', object: 'chat.completion.chunk', created: 1, model: 'outage-model', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
        response.write(frame({ role: 'assistant', content: '' }));
        response.write(frame({ content: 'A streamed answer.' }));
        response.write(frame({}, 'stop'));
        response.write(frame({}, null, { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }));
        response.end('data: [DONE]\n\n');
        return;
      }
      sendJson(response, 200, {
        id: 'chatcmpl-o',
        object: 'chat.completion',
        created: 1,
        model: 'outage-model',
        choices: [{ index: 0, message: { role: 'assistant', content: 'An answer.', refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
      });
    });
    spillRoot = mkdtempSync(join(tmpdir(), 'switchyard-outage-spill-'));

    for (const policy of ['open', 'closed'] as const) {
      const billing = createBillingPlugin({
        store: { postgres: { connectionString: postgres.url, maxConnections: 4, connectTimeoutMs: 1_000 } },
        masterKey,
        prices: { [model]: { input_per_million: 1, output_per_million: 2 } },
        ledger: { flushIntervalMs: 20, batchSize: ledgerBatchSize, maxPendingRows, spillDirectory: join(spillRoot, policy), closeDeadlineMs: 2_000 },
      });
      const rateLimitStore = new RedisRateLimitStore({ url: redis.url, failurePolicy: policy, keyPrefix: `outage:${policy}:` });
      const rateLimit = createRateLimitPlugin({ store: rateLimitStore });
      const cache = createCachePlugin({ store: { redis: { url: redis.url, keyPrefix: `outage-cache:${policy}:` } } });
      const gateway = createGateway({
        providers: [createOpenAICompatible({ id: 'mock', baseURL: `${upstream.url}/v1`, apiKey: 'x' })],
        // The server's order: billing, rate limit, cache.
        plugins: [billing, rateLimit, cache],
        logger: silentLogger,
      });
      const { url } = await gateway.listen(0, '127.0.0.1');
      const created = await fetch(`${url}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        // Limits far above the load, so every admission goes through Redis without refusing anyone.
        body: JSON.stringify({ name: `outage-${policy}`, rpm: 1_000_000, tpm: 1_000_000_000 }),
      });
      expect(created.status).toBe(201);
      const { id: keyId, key } = (await created.json()) as { id: string; key: string };
      subjects.push({ policy, gateway, billing, rateLimitStore, keyId, key, pool: new Pool(url, { connections: workersPerGateway }) });
    }
  });

  afterAll(async () => {
    for (const subject of subjects) {
      await subject.pool.close();
      await subject.gateway.close();
    }
    await upstream?.close();
    await redis?.close();
    await postgres?.close();
    if (spillRoot) rmSync(spillRoot, { recursive: true, force: true });
  });

  it('follows the failure policies, loses no ledger row and keeps memory bounded while Redis and PostgreSQL restart', { timeout: 90_000 }, async () => {
    let phase: Phase = 'before';
    let running = true;
    let sent = 0;
    const answers: Answer[] = [];

    async function send(subject: Subject, index: number): Promise<void> {
      const sentIn = phase;
      const sequence = sent++;
      // One in five repeats a question (a cache hit while Redis is up), one in four streams.
      const content = index % 5 === 0 ? 'What is a tide table for?' : `Question ${index} from the ${subject.policy} load: what is a tide table for?`;
      const stream = index % 4 === 1;
      try {
        const response = await subject.pool.request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { authorization: `Bearer ${subject.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }], max_tokens: 32 }),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const text = await response.body.text();
        const answer: Answer = { gateway: subject.policy, sequence, sentIn, doneIn: phase, status: response.statusCode };
        if (response.statusCode !== 200) answer.error = (JSON.parse(text) as { error: Answer['error'] }).error;
        else if (stream ? !text.endsWith('data: [DONE]\n\n') : !text.includes('"chat.completion"')) answer.transportError = `an incomplete answer: ${text.slice(-120)}`;
        answers.push(answer);
      } catch (error) {
        answers.push({ gateway: subject.policy, sequence, sentIn, doneIn: phase, status: 0, transportError: String(error) });
      }
    }

    const load = subjects.flatMap((subject) =>
      Array.from({ length: workersPerGateway }, async (_, worker) => {
        for (let index = worker; running; index += workersPerGateway) await send(subject, index);
      }),
    );

    // Memory and the ledgers' buffers, sampled all along.
    let mostPending = 0;
    let mostSpilled = 0;
    let outageMemory: { heapUsed: number; rss: number } | undefined;
    const sampler = setInterval(() => {
      for (const subject of subjects) {
        mostPending = Math.max(mostPending, subject.billing.ledger.pending);
        mostSpilled = Math.max(mostSpilled, subject.billing.ledger.spilled);
      }
      if (phase === 'postgres down' && outageMemory) {
        const { heapUsed, rss } = process.memoryUsage();
        outageMemory = { heapUsed: Math.max(outageMemory.heapUsed, heapUsed), rss: Math.max(outageMemory.rss, rss) };
      }
    }, 20);

    const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));
    const closed = subjects.find((subject) => subject.policy === 'closed')!;
    /** The first request sent after the closed gateway admitted again. */
    let recoveredAt = Number.POSITIVE_INFINITY;

    try {
      await pause(1_500);

      // Redis goes away: the open gateway keeps answering, the closed one refuses.
      phase = 'redis stopping';
      await redis.stop();
      phase = 'redis down';
      await pause(2_000);
      phase = 'redis back';
      await redis.start();
      // The closed gateway admits again once its client has reconnected, and from then on every time.
      await vi.waitUntil(() => answers.some((answer) => answer.gateway === 'closed' && answer.sentIn === 'redis back' && answer.status === 200), { timeout: 15_000, interval: 20 });
      recoveredAt = sent;
      await pause(1_000);
      expect(answers.filter((answer) => answer.gateway === 'closed' && answer.sequence >= recoveredAt && answer.status !== 200)).toEqual([]);

      // PostgreSQL goes away: answers continue, the ledgers buffer up to their cap and spill the rest.
      const before = process.memoryUsage();
      outageMemory = { heapUsed: before.heapUsed, rss: before.rss };
      phase = 'postgres stopping';
      await postgres.stop();
      phase = 'postgres down';
      // Down for 3 s, and at least until each ledger has gone past its cap (a slow machine sends less).
      await pause(3_000);
      await vi.waitUntil(() => subjects.every((subject) => subject.billing.ledger.spilled > 0), { timeout: 20_000, interval: 20 });
      phase = 'postgres back';
      await postgres.start();
      await pause(1_000);
      running = false;
      await Promise.all(load);

      // Every row reaches the database once it is back.
      await vi.waitUntil(
        async () => {
          for (const subject of subjects) await subject.billing.ledger.flush().catch(() => {});
          return subjects.every((subject) => subject.billing.ledger.pending === 0 && subject.billing.ledger.spilled === 0);
        },
        { timeout: 20_000, interval: 100 },
      );
      clearInterval(sampler);

      const heapGrowth = outageMemory.heapUsed - before.heapUsed;
      const rssGrowth = outageMemory.rss - before.rss;
      const lines = [`answers: ${answers.length}`];
      for (const subject of subjects) {
        const mine = answers.filter((answer) => answer.gateway === subject.policy);
        const byStatus = new Map<number, number>();
        for (const answer of mine) byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
        const statuses = [...byStatus].map(([status, count]) => `${status}: ${count}`).join(', ');
        lines.push(`${subject.policy} gateway: ${statuses}; let through unchecked ${subject.rateLimitStore.failOpenCount}, refused ${subject.rateLimitStore.failClosedCount}`);
      }
      lines.push(`ledger buffer: most pending ${mostPending} (cap ${maxPendingRows}), most spilled to files ${mostSpilled}`);
      lines.push(`during the PostgreSQL outage: heap +${(heapGrowth / 2 ** 20).toFixed(1)} MB, RSS +${(rssGrowth / 2 ** 20).toFixed(1)} MB`);

      // Rows in the database, per gateway: checked below, after the answers.
      const sql = closed.billing.store.client;
      const ledgerCounts = new Map<Policy, { rows: number; successes: number }>();
      for (const subject of subjects) {
        const mine = answers.filter((answer) => answer.gateway === subject.policy);
        const [counts] = await sql.query<{ rows: string; successes: string }>(
          `SELECT count(*) AS rows, count(*) FILTER (WHERE status = 200) AS successes FROM switchyard.usage_ledger WHERE key_id = $1`,
          [subject.keyId],
        );
        ledgerCounts.set(subject.policy, { rows: Number(counts!.rows), successes: Number(counts!.successes) });
        lines.push(`${subject.policy} gateway: ${mine.length} answers, ${counts!.rows} ledger rows (${counts!.successes} with status 200), ${mine.length - Number(counts!.rows)} lost`);
      }
      console.log(lines.join('\n'));

      // No crash, no broken connection, no half answer.
      expect(answers.filter((answer) => answer.transportError !== undefined)).toEqual([]);
      // Fail-open: every answer of the open gateway was a 200, outages or not.
      expect(answers.filter((answer) => answer.gateway === 'open' && answer.status !== 200)).toEqual([]);
      // Fail-closed: 503s in OpenAI's shape while Redis was down, and only then.
      const refused = answers.filter((answer) => answer.gateway === 'closed' && answer.status !== 200);
      const wholeOutage = answers.filter((answer) => answer.gateway === 'closed' && answer.sentIn === 'redis down' && answer.doneIn === 'redis down');
      expect(wholeOutage.length).toBeGreaterThan(0);
      expect(wholeOutage.filter((answer) => answer.status !== 503)).toEqual([]);
      for (const answer of refused) {
        expect(answer.status).toBe(503);
        // Answered once Redis had begun to stop (a request sent just before may reach the limiter after),
        // and sent before the closed gateway had recovered.
        expect(answer.doneIn).not.toBe('before');
        expect(answer.sequence).toBeLessThan(recoveredAt);
        expect(answer.error).toEqual({ message: expect.any(String), type: 'service_unavailable', param: null, code: 'rate_limiter_unavailable' });
      }
      expect(closed.rateLimitStore.failClosedCount).toBe(refused.length);
      expect(subjects.find((subject) => subject.policy === 'open')!.rateLimitStore.failOpenCount).toBeGreaterThan(0);
      // Both gateways answered through the PostgreSQL outage.
      for (const policy of ['open', 'closed'] as const) {
        expect(answers.filter((answer) => answer.gateway === policy && answer.sentIn === 'postgres down' && answer.status === 200).length).toBeGreaterThan(0);
      }

      // The cap held, and the outage was long enough to go past it.
      expect(mostPending).toBeLessThanOrEqual(maxPendingRows);
      expect(mostSpilled).toBeGreaterThan(0);
      expect(heapGrowth).toBeLessThan(heapGrowthBoundBytes);
      expect(rssGrowth).toBeLessThan(rssGrowthBoundBytes);

      // No row lost or doubled: one per answer, a 200 row for every 200.
      for (const subject of subjects) {
        const mine = answers.filter((answer) => answer.gateway === subject.policy);
        expect(ledgerCounts.get(subject.policy)).toEqual({ rows: mine.length, successes: mine.filter((answer) => answer.status === 200).length });
      }
    } finally {
      running = false;
      clearInterval(sampler);
      await Promise.all(load);
    }
  });
});
