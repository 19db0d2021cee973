/**
 * A client that hangs up in the middle of a stream, through the real HTTP endpoint of a gateway with
 * billing and a concurrency limit: the provider's request is closed at once (no generation paid for and
 * thrown away), the client's concurrency slot comes back, and the ledger bills what was produced.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { type BillingPlugin, createBillingPlugin } from '@switchyard/plugin-billing';
import { createRateLimitPlugin } from '@switchyard/plugin-ratelimit';
import { createOpenAICompatible } from '@switchyard/providers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type SlowStreamUpstream, startSlowStreamUpstream, wallClock } from './helpers/slow-stream-upstream.js';

const model = 'slow/slow-model';
const masterKey = 'sk-master-disconnect-test';
/** How long the mock waits between chunks: slow enough that the client leaves while the provider works. */
const chunkIntervalMs = 40;
/** The whole answer the mock would send, were the client to wait for it (bounds the test's duration). */
const plannedChunks = 100;
/** Content chunks the client reads before it hangs up. */
const chunksBeforeHangUp = 3;
/** How soon after the client's hang-up the provider's request must be closed. */
const upstreamCloseDeadlineMs = 50;

let upstream: SlowStreamUpstream;
let gateway: Gateway;
let billing: BillingPlugin;
let url: string;
/** Set when DATABASE_URL points the ledger at PostgreSQL: the schema this test made and drops. */
let postgresSchema: string | undefined;

beforeAll(async () => {
  upstream = await startSlowStreamUpstream({ chunkIntervalMs, chunks: plannedChunks });
  const databaseUrl = process.env.DATABASE_URL;
  postgresSchema = databaseUrl ? `disconnect_${randomUUID().replaceAll('-', '').slice(0, 16)}` : undefined;
  billing = createBillingPlugin({
    store: databaseUrl ? { postgres: databaseUrl } : { embedded: 'memory://' },
    schema: postgresSchema,
    masterKey,
    prices: { [model]: { input_per_million: 1, output_per_million: 2 } },
    ledger: { flushIntervalMs: 10 },
  });
  gateway = createGateway({
    providers: [createOpenAICompatible({ id: 'slow', baseURL: `${upstream.url}/v1`, apiKey: 'x' })],
    // The server's order: billing first, so the rate limiter reads the key's limits.
    plugins: [billing, createRateLimitPlugin({ store: 'memory' })],
    logger: silentLogger,
  });
  url = (await gateway.listen(0, '127.0.0.1')).url;
});

afterAll(async () => {
  if (postgresSchema) {
    // Rows still queued are written first, so closing the gateway finds nothing left to write.
    await billing?.ledger.flush().catch(() => {});
    await billing?.store.dropSchema().catch(() => {});
  }
  await gateway?.close();
  await upstream?.stop();
});

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await fetch(`${url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; key: string };
}

function chat(key: string, content: string, stream: boolean): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
  });
}

/**
 * Streams a completion over a raw socket and, from its first content chunk, runs `whileStreaming`; once that
 * has finished and `contentChunks` chunks have arrived, destroys the socket. Resolves with the moment it did
 * (on the upstream's clock, `wallClock`) and the text it had read.
 */
function streamThenHangUp(
  key: string,
  content: string,
  contentChunks: number,
  whileStreaming: () => Promise<void>,
): Promise<{ hungUpAt: number; text: string; status: number }> {
  const { hostname, port } = new URL(url);
  const payload = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content }] });
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: hostname, port, method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (response) => {
        let buffered = '';
        let text = '';
        let seen = 0;
        let checked = false;
        const hangUpWhenReady = () => {
          if (!checked || seen < contentChunks || outgoing.destroyed) return;
          outgoing.destroy();
          resolve({ hungUpAt: wallClock(), text, status: response.statusCode ?? 0 });
        };
        response.setEncoding('utf8');
        response.on('data', (data: string) => {
          buffered += data;
          let boundary: number;
          while ((boundary = buffered.indexOf('\n\n')) >= 0) {
            const event = buffered.slice(0, boundary);
            buffered = buffered.slice(boundary + 2);
            if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
            const delta = (JSON.parse(event.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content;
            if (!delta || seen === contentChunks) continue;
            text += delta;
            if (++seen === 1) {
              whileStreaming().then(() => {
                checked = true;
                hangUpWhenReady();
              }, reject);
            }
            hangUpWhenReady();
          }
        });
        response.on('end', () => reject(new Error(`the stream ended after ${seen} chunks, before the client hung up`)));
      },
    );
    outgoing.on('error', (error) => {
      // The socket error that follows our own destroy() is expected; anything before it is not.
      if (!outgoing.destroyed) reject(error);
    });
    outgoing.end(payload);
  });
}

describe('client disconnect mid-stream', () => {
  it('closes the upstream request within 50 ms, frees the concurrency slot, and bills the partial answer', async () => {
    // The first hang-up in a process also pays for loading and compiling the code paths it takes (tens of
    // milliseconds on a busy two-core machine); a warm-up one on another key keeps that out of the measurement.
    const warmUp = await createKey({ name: 'warm-up' });
    const warmUpMarker = `Warm up (${randomUUID()})`;
    const warmUpHangUp = await streamThenHangUp(warmUp.key, warmUpMarker, chunksBeforeHangUp, async () => {});
    await expect.poll(async () => (await upstream.closes())[warmUpMarker], { timeout: 2_000, interval: 10 }).toBeDefined();
    const coldLatencyMs = (await upstream.closes())[warmUpMarker]!.closedAt - warmUpHangUp.hungUpAt;

    const { id: keyId, key } = await createKey({ name: 'disconnects', max_concurrency: 1 });
    const marker = `Tell me a long story (${randomUUID()})`;
    const { hungUpAt, text, status } = await streamThenHangUp(key, marker, chunksBeforeHangUp, async () => {
      // While the stream holds the key's only slot, a second request is refused: the limit is in force.
      const whileStreaming = await chat(key, 'second request while the stream runs', false);
      expect(whileStreaming.status).toBe(429);
      expect(await whileStreaming.json()).toMatchObject({ error: { type: expect.any(String), message: expect.stringContaining('concurrent requests') } });
    });
    expect(status).toBe(200);
    expect(text).toBe('word0 word1 word2 ');

    // (a) The provider's request is closed, promptly.
    await expect.poll(async () => (await upstream.closes())[marker], { timeout: 2_000, interval: 10 }).toBeDefined();
    const closed = (await upstream.closes())[marker]!;
    expect(closed.finished).toBe(false);
    const closeLatencyMs = closed.closedAt - hungUpAt;
    console.log(`client hang-up → upstream request closed: ${closeLatencyMs.toFixed(2)} ms (the process's first hang-up: ${coldLatencyMs.toFixed(2)} ms)`);
    expect(closeLatencyMs).toBeGreaterThanOrEqual(0);
    expect(closeLatencyMs).toBeLessThan(upstreamCloseDeadlineMs);

    // (b) The slot is back: the next request from the same key, at a concurrency limit of 1, is admitted.
    // No waiting or retrying: by the time the provider's connection is closed the slot is free.
    const next = await chat(key, 'next request after the hang-up', false);
    expect(next.status).toBe(200);

    // (c) The ledger has the aborted request, billed for the prompt and for the chunks that were produced.
    // The row is queued once billing has counted the streamed tokens (the provider never sent its usage).
    const rows = await vi.waitUntil(
      async () => {
        await billing.ledger.flush();
        const listed = await billing.store.listRequests({ keyId, limit: 100 });
        return listed.some((row) => row.streamed) ? listed : undefined;
      },
      { timeout: 5_000, interval: 20 },
    );
    const aborted = rows.filter((row) => row.streamed);
    expect(aborted).toHaveLength(1);
    const row = aborted[0]!;
    expect(row).toMatchObject({ outcome: 'aborted', status: 499, model_served: model, provider: 'slow', usage_estimated: true, attempts: 1 });
    expect(row.prompt_tokens).toBeGreaterThan(0);
    // At least what the client read; at most what the provider had sent when the gateway stopped it.
    expect(row.completion_tokens).toBeGreaterThanOrEqual(chunksBeforeHangUp);
    expect(row.completion_tokens).toBeLessThan(plannedChunks);
    expect(Number(row.cost_usd)).toBeGreaterThan(0);
    // The refused request and the one admitted afterwards have a row each too.
    expect(rows.filter((entry) => !entry.streamed).map((entry) => [entry.status, entry.outcome]).sort()).toEqual([
      [200, 'success'],
      [429, 'rejected'],
    ]);
  });
});
