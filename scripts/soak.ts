/**
 * `pnpm soak [--requests 1000000] [--concurrency 32]`: a long run of mixed traffic through a gateway with
 * the usual plugins, to find what short tests cannot: memory that grows with every request, connections
 * that break after many thousands of requests, errors that show up once in a hundred thousand.
 *
 * It starts the bench's mock upstream and a gateway (OpenAI-compatible provider; rate limit, cache,
 * fallback and observability plugins, all in memory) in child processes, then sends the requests over
 * keep-alive connections: unique and repeated (cache-hit) JSON completions, unique and repeated streams,
 * and bad requests that must be answered 4xx. It prints the gateway's resident memory along the way and
 * exits 1 on any 5xx, transport error or unexpected answer. Not part of `pnpm test`.
 */
import { readFileSync } from 'node:fs';
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
}

/** What a request must be answered with. */
type Expectation = 'json' | 'stream' | 'client-error';

interface Planned {
  kind: string;
  expect: Expectation;
  request: Buffer;
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
 * The mix, by request number: 4 in 10 unique JSON completions (upstream), 1 repeated JSON (cache hit after
 * the first), 2 unique streams, 1 repeated stream (replayed from the cache), 2 bad requests (malformed
 * JSON, a request without messages, an unknown model, a bad temperature, in turn).
 */
function plan(url: URL, index: number): Planned {
  const headers = { authorization: 'Bearer sk-soak' };
  const post = (body: string) => encodeRequest(url, 'POST', '/v1/chat/completions', body, headers);
  switch (index % 10) {
    case 4:
      return { kind: 'json (repeated)', expect: 'json', request: post(chatBody('What is a tide table for?', false)) };
    case 5:
    case 6:
      return { kind: 'stream', expect: 'stream', request: post(chatBody(`Stream number ${index}: what is a tide table for?`, true)) };
    case 7:
      return { kind: 'stream (repeated)', expect: 'stream', request: post(chatBody('Stream it: what is a tide table for?', true)) };
    case 8:
    case 9: {
      const bad = Math.floor(index / 10) % 4;
      const kinds = ['bad: malformed JSON', 'bad: no messages', 'bad: unknown model', 'bad: temperature 7'] as const;
      const bodies = [
        '{"model": "mock/x", "messages": [',
        JSON.stringify({ model }),
        JSON.stringify({ model: 'nowhere/none', messages: [{ role: 'user', content: 'hello' }] }),
        chatBody(`Bad temperature ${index}`, false, { temperature: 7 }),
      ];
      return { kind: kinds[(bad + (index % 10)) % 4]!, expect: 'client-error', request: post(bodies[(bad + (index % 10)) % 4]!) };
    }
    default:
      return { kind: 'json', expect: 'json', request: post(chatBody(`Question number ${index}: what is a tide table for?`, false)) };
  }
}

/** Why an answer is not what its request must get, or undefined when it is. */
function check(planned: Planned, timing: ResponseTiming): string | undefined {
  const body = timing.body?.toString('utf8') ?? '';
  if (planned.expect === 'client-error') {
    if (timing.status < 400 || timing.status >= 500) return `expected 4xx, got ${timing.status}`;
    return body.includes('"error"') ? undefined : `a ${timing.status} without an OpenAI error body: ${body.slice(0, 200)}`;
  }
  if (timing.status !== 200) return `expected 200, got ${timing.status}: ${body.slice(0, 200)}`;
  if (planned.expect === 'json') return body.includes('"object":"chat.completion"') ? undefined : `not a chat completion: ${body.slice(0, 200)}`;
  return body.endsWith('data: [DONE]\n\n') && body.includes('"finish_reason":"stop"') ? undefined : `an incomplete stream: …${body.slice(-200)}`;
}

function residentMegabytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function soak(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '1000000' },
      concurrency: { type: 'string', default: '32' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: pnpm soak [--requests 1000000] [--concurrency 32]');
    return 0;
  }
  const total = Number(values.requests);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    console.error('--requests and --concurrency must be whole numbers ≥ 1.');
    return 2;
  }

  const started: TargetProcess[] = [];
  try {
    const upstream = await spawnTarget({ name: 'mock upstream', module: new URL('../bench/targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: 0 } });
    started.push(upstream);
    const gateway = await spawnTarget({ name: 'gateway', module: new URL(import.meta.url), options: { upstreamUrl: upstream.url } satisfies GatewayOptions });
    started.push(gateway);
    const url = new URL(gateway.url);
    const startRss = residentMegabytes(gateway.pid);
    console.log(`Soak: ${total.toLocaleString('en-US')} requests, ${concurrency} keep-alive connections, gateway pid ${gateway.pid} at ${gateway.url}`);
    console.log(`gateway RSS at start: ${startRss.toFixed(1)} MB`);

    const byKindAndStatus = new Map<string, number>();
    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    let failureCount = 0;
    let transportErrors = 0;
    let next = 0;
    let done = 0;
    let peakRss = startRss;
    const startedAt = performance.now();
    const progressEvery = Math.max(1, Math.floor(total / 10));

    const fail = (message: string) => {
      failureCount++;
      if (failures.length < 20) failures.push(message);
    };
    const worker = async () => {
      let connection = await KeepAliveConnection.open(url);
      while (next < total) {
        const index = next++;
        const planned = plan(url, index);
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
    const endRss = residentMegabytes(gateway.pid);
    peakRss = Math.max(peakRss, endRss);
    console.log(`\n${done.toLocaleString('en-US')} answers in ${seconds.toFixed(1)} s (${Math.round(done / seconds).toLocaleString('en-US')} req/s)`);
    console.log(`gateway RSS: start ${startRss.toFixed(1)} MB, end ${endRss.toFixed(1)} MB, peak sampled ${peakRss.toFixed(1)} MB`);
    console.log(`by status: ${[...byStatus].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count.toLocaleString('en-US')}`).join(', ')}`);
    console.log('by request kind:');
    for (const [key, count] of [...byKindAndStatus].sort()) console.log(`  ${key.padEnd(28)} ${count.toLocaleString('en-US')}`);
    const serverErrors = [...byStatus].filter(([status]) => status >= 500).reduce((sum, [, count]) => sum + count, 0);
    console.log(`5xx: ${serverErrors}, transport errors: ${transportErrors}, unexpected answers: ${failureCount - transportErrors}`);
    if (failureCount > 0) {
      console.log(`first failures:\n${failures.map((failure) => `  ${failure}`).join('\n')}`);
      return 1;
    }
    console.log('OK');
    return 0;
  } finally {
    await Promise.all(started.map((process) => process.stop()));
  }
}

if (process.env[targetOptionsVariable] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  // Started by `spawnTarget`: the gateway under test.
  await serveTarget(async () => {
    const options = readTargetOptions<GatewayOptions>();
    const [{ createGateway }, { createOpenAICompatible }, { createRateLimitPlugin }, { createCachePlugin }, { createFallbackPlugin }, { createObservabilityPlugin }] = await Promise.all([
      import('@switchyard/core'),
      import('@switchyard/providers'),
      import('@switchyard/plugin-ratelimit'),
      import('@switchyard/plugin-cache'),
      import('@switchyard/plugin-fallback'),
      import('@switchyard/plugin-observability'),
    ]);
    const gateway = createGateway({
      providers: [createOpenAICompatible({ id: providerId, baseURL: `${options.upstreamUrl}/v1`, apiKey: 'soak' })],
      // The server's hook order; limits far above what the soak sends, so the limiter counts without refusing.
      plugins: [
        createRateLimitPlugin({ store: 'memory', anonymous: { rpm: 1e9, tpm: 1e12, maxConcurrency: 100_000 } }),
        createCachePlugin({ store: 'memory' }),
        createFallbackPlugin(),
        createObservabilityPlugin({ requestLog: false }),
      ],
    });
    const { url } = await gateway.listen(0, '127.0.0.1');
    return { url, close: () => gateway.close() };
  });
} else {
  process.exitCode = await soak();
}
