/**
 * `pnpm soak [--requests 1000000] [--concurrency 32] [--database-url postgres://…]`: a long run of mixed
 * traffic through a gateway with the usual plugins, to find what short tests cannot: memory that grows
 * with every request, connections that break after many thousands of requests, errors that show up once
 * in a hundred thousand, ledger rows that go missing.
 *
 * It starts the bench's mock upstream and a gateway (OpenAI-compatible provider; billing with virtual keys
 * and its usage ledger, rate limit, cache, fallback and observability plugins) in child processes, then
 * sends the requests over keep-alive connections: unique and repeated (cache-hit) JSON completions, unique
 * and repeated streams, bad requests that must be answered 4xx, and requests with a missing, malformed,
 * unknown or revoked key that must be answered 401. The ledger is PostgreSQL at `--database-url` (default
 * `DATABASE_URL`; a schema of its own, dropped at the end) or, without one, embedded PostgreSQL in a
 * temporary directory. It prints the gateway's resident memory along the way, its CPU per request, and
 * checks at the end that the ledger has exactly one row per request that reached the plugins. Exits 1 on
 * any 5xx, transport error, unexpected answer or ledger mismatch. Not part of `pnpm test`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeRequest, KeepAliveConnection, type ResponseTiming } from '../bench/lib/http-connection.js';
import { upstreamModel } from '../bench/lib/openai-payloads.js';
import { spawnTarget, type TargetProcess } from '../bench/lib/processes.js';
import { readTargetOptions, serveTarget, targetOptionsVariable } from '../bench/lib/target-process.js';

const providerId = 'mock';
const model = `${providerId}/${upstreamModel}`;

interface GatewayOptions {
  upstreamUrl: string;
  masterKey: string;
  ledger: { postgres: string; schema: string } | { embedded: string };
}

/** What a request must be answered with. */
type Expectation = 'json' | 'stream' | 'client-error' | 'unauthorized';

interface Planned {
  kind: string;
  expect: Expectation;
  /** Whether the request reaches the plugins, and so must have a ledger row (a body the gateway cannot parse does not). */
  recorded: boolean;
  request: Buffer;
}

/** The keys the load uses: a valid one, and one revoked before the run. */
interface SoakKeys {
  valid: string;
  revoked: string;
}

function chatBody(content: string, stream: boolean, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You answer in one short sentence.' },
      { role: 'user', content },
    ],
    max_tokens: 64,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    ...extra,
  });
}

/**
 * The mix, by request number, per 20: 7 unique JSON completions (upstream), 2 repeated JSON (cache hits),
 * 4 unique streams, 1 repeated stream (replayed from the cache), 3 bad requests (malformed JSON, no
 * messages, an unknown model, a bad temperature, in turn) and 3 authentication failures (no key, a key
 * that is not a gateway key, an unknown gateway key, a revoked one, in turn). Requests whose bytes never
 * change are encoded once.
 */
function createPlanner(url: URL, keys: SoakKeys): (index: number) => Planned {
  const post = (body: string, key: string | undefined) =>
    encodeRequest(url, 'POST', '/v1/chat/completions', body, key === undefined ? {} : { authorization: `Bearer ${key}` });
  const fixed = (kind: string, expect: Expectation, recorded: boolean, body: string, key: string | undefined): Planned => ({ kind, expect, recorded, request: post(body, key) });
  const repeatedJson = fixed('json (repeated)', 'json', true, chatBody('What is a tide table for?', false), keys.valid);
  const repeatedStream = fixed('stream (repeated)', 'stream', true, chatBody('Stream it: what is a tide table for?', true), keys.valid);
  const bad = [
    fixed('bad: malformed JSON', 'client-error', false, '{"model": "mock/x", "messages": [', keys.valid),
    fixed('bad: no messages', 'client-error', false, JSON.stringify({ model }), keys.valid),
    fixed('bad: unknown model', 'client-error', true, JSON.stringify({ model: 'nowhere/none', messages: [{ role: 'user', content: 'hello' }] }), keys.valid),
    fixed('bad: temperature 7', 'client-error', false, chatBody('Bad temperature', false, { temperature: 7 }), keys.valid),
  ];
  const ask = chatBody('Who may ask?', false);
  const unauthorized = [
    fixed('auth: no key', 'unauthorized', true, ask, undefined),
    fixed('auth: not a gateway key', 'unauthorized', true, ask, 'sk-proj-not-a-gateway-key'),
    fixed('auth: unknown key', 'unauthorized', true, ask, `sk-sy-${'0'.repeat(40)}`),
    fixed('auth: revoked key', 'unauthorized', true, ask, keys.revoked),
  ];
  return (index) => {
    const slot = index % 20;
    const round = Math.floor(index / 20);
    if (slot < 7) return { kind: 'json', expect: 'json', recorded: true, request: post(chatBody(`Question number ${index}: what is a tide table for?`, false), keys.valid) };
    if (slot < 9) return repeatedJson;
    if (slot < 13) return { kind: 'stream', expect: 'stream', recorded: true, request: post(chatBody(`Stream number ${index}: what is a tide table for?`, true), keys.valid) };
    if (slot === 13) return repeatedStream;
    if (slot < 17) return bad[(round + slot) % bad.length]!;
    return unauthorized[(round + slot) % unauthorized.length]!;
  };
}

const chatCompletionMarker = Buffer.from('"object":"chat.completion"');
const finishStopMarker = Buffer.from('"finish_reason":"stop"');
const streamEnd = Buffer.from('data: [DONE]\n\n');
const errorMarker = Buffer.from('"error"');
const invalidKeyMarker = Buffer.from('"code":"invalid_api_key"');

/** Why an answer is not what its request must get, or undefined when it is. Reads bytes: text only on failure. */
function check(planned: Planned, timing: ResponseTiming): string | undefined {
  const body = timing.body ?? Buffer.alloc(0);
  const show = (text: Buffer) => text.toString('utf8').slice(0, 200);
  if (planned.expect === 'unauthorized') {
    if (timing.status !== 401) return `expected 401, got ${timing.status}: ${show(body)}`;
    return body.includes(invalidKeyMarker) ? undefined : `a 401 without an invalid_api_key error: ${show(body)}`;
  }
  if (planned.expect === 'client-error') {
    if (timing.status < 400 || timing.status >= 500) return `expected 4xx, got ${timing.status}`;
    return body.includes(errorMarker) ? undefined : `a ${timing.status} without an OpenAI error body: ${show(body)}`;
  }
  if (timing.status !== 200) return `expected 200, got ${timing.status}: ${show(body)}`;
  if (planned.expect === 'json') return body.includes(chatCompletionMarker) ? undefined : `not a chat completion: ${show(body)}`;
  const ended = body.length >= streamEnd.length && body.subarray(body.length - streamEnd.length).equals(streamEnd);
  return ended && body.includes(finishStopMarker) ? undefined : `an incomplete stream: …${body.subarray(-200).toString('utf8')}`;
}

function residentMegabytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Calls the billing admin API with the master key; throws on anything but the expected status. */
async function admin<T>(baseUrl: string, masterKey: string, method: string, path: string, expected: number, body?: unknown): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function soak(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '1000000' },
      concurrency: { type: 'string', default: '32' },
      'database-url': { type: 'string', default: process.env.DATABASE_URL },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: pnpm soak [--requests 1000000] [--concurrency 32] [--database-url postgres://…]');
    console.log('The ledger goes to --database-url (default: DATABASE_URL), or to embedded PostgreSQL in a temporary directory.');
    return 0;
  }
  const total = Number(values.requests);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    console.error('--requests and --concurrency must be whole numbers ≥ 1.');
    return 2;
  }

  const masterKey = `sk-soak-master-${randomUUID()}`;
  const databaseUrl = values['database-url'];
  const embeddedDirectory = databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'switchyard-soak-ledger-'));
  const ledger: GatewayOptions['ledger'] = databaseUrl
    ? { postgres: databaseUrl, schema: `soak_${randomUUID().replaceAll('-', '').slice(0, 12)}` }
    : { embedded: embeddedDirectory! };

  const started: TargetProcess[] = [];
  try {
    const upstream = await spawnTarget({ name: 'mock upstream', module: new URL('../bench/targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: 0 } });
    started.push(upstream);
    const gateway = await spawnTarget({ name: 'gateway', module: new URL(import.meta.url), options: { upstreamUrl: upstream.url, masterKey, ledger } satisfies GatewayOptions });
    started.push(gateway);
    const url = new URL(gateway.url);

    // Limits far above what the soak sends: the limiter counts every request without refusing any.
    const limits = { rpm: 1_000_000_000, tpm: 1_000_000_000, max_concurrency: 100_000 };
    const valid = await admin<{ key: string }>(gateway.url, masterKey, 'POST', '/admin/keys', 201, { name: 'soak', ...limits });
    const revoked = await admin<{ id: string; key: string }>(gateway.url, masterKey, 'POST', '/admin/keys', 201, { name: 'soak revoked' });
    await admin(gateway.url, masterKey, 'DELETE', `/admin/keys/${revoked.id}`, 200);
    const plan = createPlanner(url, { valid: valid.key, revoked: revoked.key });

    const startRss = residentMegabytes(gateway.pid);
    const startCpu = await gateway.cpuMicroseconds();
    console.log(`Soak: ${total.toLocaleString('en-US')} requests, ${concurrency} keep-alive connections, gateway pid ${gateway.pid} at ${gateway.url}`);
    console.log(`ledger: ${'postgres' in ledger ? `PostgreSQL, schema ${ledger.schema}` : `embedded PostgreSQL in ${ledger.embedded}`}`);
    console.log(`gateway RSS at start: ${startRss.toFixed(1)} MB`);

    const byKindAndStatus = new Map<string, number>();
    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    let failureCount = 0;
    let transportErrors = 0;
    let expectedLedgerRows = 0;
    let next = 0;
    let done = 0;
    let peakRss = startRss;
    const startedAt = performance.now();
    const progressEvery = Math.max(1, Math.floor(total / 20));

    const fail = (message: string) => {
      failureCount++;
      if (failures.length < 20) failures.push(message);
    };
    const worker = async () => {
      let connection = await KeepAliveConnection.open(url);
      while (next < total) {
        const index = next++;
        const planned = plan(index);
        if (planned.recorded) expectedLedgerRows++;
        let timing: ResponseTiming;
        try {
          timing = await connection.send(planned.request, { keepBody: true });
        } catch (error) {
          transportErrors++;
          fail(`request ${index} (${planned.kind}): ${error instanceof Error ? error.message : String(error)}`);
          connection.close();
          connection = await KeepAliveConnection.open(url);
          continue;
        }
        byStatus.set(timing.status, (byStatus.get(timing.status) ?? 0) + 1);
        const key = `${planned.kind} → ${timing.status}`;
        byKindAndStatus.set(key, (byKindAndStatus.get(key) ?? 0) + 1);
        const problem = check(planned, timing);
        if (problem) fail(`request ${index} (${planned.kind}): ${problem}`);
        if (++done % progressEvery === 0) {
          const rss = residentMegabytes(gateway.pid);
          peakRss = Math.max(peakRss, rss);
          const seconds = (performance.now() - startedAt) / 1000;
          console.log(`  ${done.toLocaleString('en-US')} done, ${Math.round(done / seconds).toLocaleString('en-US')} req/s, gateway RSS ${rss.toFixed(1)} MB, failures ${failureCount}`);
        }
      }
      connection.close();
    };
    await Promise.all(Array.from({ length: concurrency }, worker));

    const seconds = (performance.now() - startedAt) / 1000;
    const gatewayCpu = (await gateway.cpuMicroseconds()) - startCpu;
    const endRss = residentMegabytes(gateway.pid);
    peakRss = Math.max(peakRss, endRss);
    // Flushes the ledger, then sums the daily roll-up: one request per ledger row.
    const usage = await admin<{ totals: { requests: number } }>(gateway.url, masterKey, 'GET', '/admin/usage?group_by=key', 200);
    const ledgerRows = usage.totals.requests;

    console.log(`\n${done.toLocaleString('en-US')} answers in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString('en-US')} req/s)`);
    console.log(`gateway RSS: start ${startRss.toFixed(1)} MB, end ${endRss.toFixed(1)} MB, peak sampled ${peakRss.toFixed(1)} MB`);
    console.log(`gateway CPU: ${(gatewayCpu / done).toFixed(0)} µs per request (${(gatewayCpu / 1e6 / seconds * 100).toFixed(0)} % of a core)`);
    console.log(`by status: ${[...byStatus].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count.toLocaleString('en-US')}`).join(', ')}`);
    console.log('by request kind:');
    for (const [key, count] of [...byKindAndStatus].sort()) console.log(`  ${key.padEnd(32)} ${count.toLocaleString('en-US')}`);
    const serverErrors = [...byStatus].filter(([status]) => status >= 500).reduce((sum, [, count]) => sum + count, 0);
    console.log(`ledger rows: ${ledgerRows.toLocaleString('en-US')} of ${expectedLedgerRows.toLocaleString('en-US')} expected`);
    console.log(`5xx: ${serverErrors}, transport errors: ${transportErrors}, unexpected answers: ${failureCount - transportErrors}, ledger rows missing: ${expectedLedgerRows - ledgerRows}`);
    if (ledgerRows !== expectedLedgerRows) fail(`the ledger has ${ledgerRows} rows for ${expectedLedgerRows} requests that reached the plugins`);
    if (failureCount > 0) {
      console.log(`first failures:\n${failures.map((failure) => `  ${failure}`).join('\n')}`);
      return 1;
    }
    console.log('OK');
    return 0;
  } finally {
    await Promise.all(started.map((process) => process.stop()));
    if (embeddedDirectory) rmSync(embeddedDirectory, { recursive: true, force: true });
  }
}

if (process.env[targetOptionsVariable] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  // Started by `spawnTarget`: the gateway under test.
  await serveTarget(async () => {
    const options = readTargetOptions<GatewayOptions>();
    const [{ createDefaultLogger, createGateway }, { createOpenAICompatible }, { createBillingPlugin }, { createRateLimitPlugin }, { createCachePlugin }, { createFallbackPlugin }, { createObservabilityPlugin }] = await Promise.all([
      import('@switchyard/core'),
      import('@switchyard/providers'),
      import('@switchyard/plugin-billing'),
      import('@switchyard/plugin-ratelimit'),
      import('@switchyard/plugin-cache'),
      import('@switchyard/plugin-fallback'),
      import('@switchyard/plugin-observability'),
    ]);
    const billing = createBillingPlugin({
      store: 'postgres' in options.ledger ? { postgres: options.ledger.postgres } : { embedded: options.ledger.embedded },
      schema: 'postgres' in options.ledger ? options.ledger.schema : undefined,
      masterKey: options.masterKey,
      prices: { [model]: { input_per_million: 0.15, output_per_million: 0.6 } },
    });
    const gateway = createGateway({
      providers: [createOpenAICompatible({ id: providerId, baseURL: `${options.upstreamUrl}/v1`, apiKey: 'soak' })],
      // The server's hook order.
      plugins: [
        billing,
        createRateLimitPlugin({ store: 'memory' }),
        createCachePlugin({ store: 'memory' }),
        createFallbackPlugin(),
        createObservabilityPlugin({ requestLog: false }),
      ],
      // Warnings and errors only: a failing hook or a ledger write that fails shows up in the soak's output.
      logger: createDefaultLogger('warn'),
    });
    const { url } = await gateway.listen(0, '127.0.0.1');
    return {
      url,
      close: async () => {
        if ('postgres' in options.ledger) {
          // The soak's rows are not worth keeping: its schema goes once they have all been written.
          await billing.ledger.flush().catch(() => {});
          await billing.store.dropSchema().catch(() => {});
        }
        await gateway.close();
      },
    };
  });
} else {
  process.exitCode = await soak();
}
