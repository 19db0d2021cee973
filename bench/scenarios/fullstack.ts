/*
 * The gateway as it is deployed, against the bare Node proxy: billing (virtual key), rate limiting, the
 * response cache and the fallback wrapper, in the production server's order, each doing its full work on
 * every request. Measured in one run beside `direct`, `bare` and the plugin-less `gateway`:
 *
 * - throughput at --connections (64) on one core, CPU per request;
 * - added latency one request at a time (p50, p99) and added time to first chunk of a stream;
 * - resident memory per 1,000 streams held open at once;
 * - resident memory at the start and end of a long run (--long-requests), which must stay flat.
 *
 * Every request is a cache miss that goes upstream: requests differ in their user message (the cache keys
 * on it), JSON requests are handed out in turn from more distinct bodies than the cache holds, streams are
 * never repeated. A counting wrapper around the cache's store proves it: the report prints its hits.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMeasurementChild, runMeasurementChild, serveMeasurement } from '../lib/child-measurement.js';
import { openConcurrentStreams } from '../lib/concurrent-streams.js';
import { distinctChatBody, distinctChatRequestsInTurn, distinctStreamRequests } from '../lib/distinct-requests.js';
import { encodeRequest } from '../lib/http-connection.js';
import { fetchOnce } from '../lib/load.js';
import { streamChunkCount, upstreamModel } from '../lib/openai-payloads.js';
import { formatMegabytes, residentSetBytes } from '../lib/process-stats.js';
import { spawnTarget, type TargetProcess } from '../lib/processes.js';
import { redisAnswersPing } from '../lib/redis-ping.js';
import { measureProxyRounds, proxyRoundSections, type RoundFigures, roundStatistics, starvedSubjectsWarning } from '../lib/proxy-rounds.js';
import { type RequestSource, sendRequests } from '../lib/rotating-load.js';
import type { BenchSettings, Goal, ReportSection, Scenario, ScenarioReport } from '../lib/scenario.js';
import { formatNumber, formatRatio, formatSignedMs, median } from '../lib/stats.js';
import { renderTable } from '../lib/table.js';
import type { FullStackOptions, FullStackStats, GatewayTargetOptions } from '../targets/gateway.js';

/** Goals of the full stack, against the bare proxy. */
const minimumThroughputRatio = 0.8;
const maximumAddedP50Ms = 0.15;
const maximumAddedP99Ms = 1;
const maximumAddedFirstChunkP99Ms = 1;
const maximumMegabytesPerThousandStreams = 60;
/** RSS late in the long run may exceed RSS early in it by this share: beyond it, memory grows with requests. */
const maximumLongRunGrowth = 0.1;

const defaultRedisUrl = 'redis://127.0.0.1:6379';
const providerId = 'mock';
const slowProviderId = 'slow';
/** Fallback groups the full stack serves: the measured model first, a second provider behind it. */
const chainModel = 'bench-chain';
const slowChainModel = 'bench-slow-chain';
/**
 * Distinct JSON requests handed out in turn: more than the cache's 10,000 entries plus the connections in
 * flight, so each request has been evicted (least recently used) before it comes round again.
 */
const distinctJsonRequests = 16_384;
const concurrentStreams = 1_000;
/**
 * Pause between the slow upstream's events: its 20-chunk streams last 19 × this, long enough to open all
 * 1,000 through the full stack (several seconds on a busy machine) and read memory before the first ends.
 */
const slowChunkIntervalMs = 1_000;
/** Upstream connections per provider: above the 1,000 streams, so none waits for a connection. */
const upstreamConnections = 2_048;
const statsPath = '/bench/stats';

type SubjectName = 'direct' | 'bare' | 'gateway' | 'full-memory' | 'full-redis';

interface Subject {
  name: SubjectName;
  description: string;
  process: TargetProcess;
  /** Model for the measured path, and the `authorization` header. */
  model: string;
  authorization: string;
  json: RequestSource;
  streams: RequestSource;
  /** Full-stack subjects: where to read their cache and rate-limit figures. */
  statsUrl?: URL;
}

interface StreamMemory {
  before: number | undefined;
  during: number | undefined;
  completed: number;
  failed: number;
  /** Seconds from the first request written to the last stream's first byte. */
  openSeconds: number;
  /** False when a stream ended before memory was read: the figure then undercounts. */
  allOpenWhileSampled: boolean;
}

interface LongRun {
  /** RSS before the first request, at every tenth of the run, and after the last. */
  samples: Array<{ answered: number; rss: number | undefined }>;
  /**
   * RSS once the first tenth has been answered: by then the cache holds as many answers as it ever will
   * and V8's heap has grown to its working size, so growth from here on is growth with requests.
   */
  start: number | undefined;
  end: number | undefined;
  /**
   * Medians of the readings from 10 % to 50 % of the run and from 60 % to the end. One reading swings by a
   * quarter with where the garbage collector happens to be (seen: 187 → 242 → 204 → 280 → 210 MB on a flat
   * run), so growth compares the two halves rather than two single readings. NaN without readings.
   */
  earlyMedian: number;
  lateMedian: number;
  requestsPerSecond: number;
  errors: number;
}

interface CleanupOptions {
  databaseUrl: string;
  schemas: string[];
}

export const fullstackScenario: Scenario = {
  name: 'fullstack',
  summary: 'gateway with billing + rate limit (memory, Redis) + cache (all misses) + fallback vs bare proxy: RPS, added latency and TTFC, RSS per 1,000 streams, RSS over a long run',

  async run(settings: BenchSettings): Promise<ScenarioReport> {
    const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
    const redisReachable = await redisAnswersPing(redisUrl);
    if (!redisReachable) settings.log(`Redis at ${redisUrl} does not answer: full-redis is left out (set REDIS_URL to measure it).`);
    const databaseUrl = process.env.DATABASE_URL;
    const runId = randomBytes(4).toString('hex');
    const started: TargetProcess[] = [];
    const directories: string[] = [];
    const schemas: string[] = [];
    try {
      settings.log('starting the mock upstreams, direct, the bare proxies, the gateway and the full stacks…');
      const [upstream, slowUpstream] = await Promise.all([
        spawnTarget({ name: 'mock upstream', module: new URL('../targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: settings.chunkIntervalMs }, core: settings.harnessCore }),
        spawnTarget({ name: 'slow mock upstream', module: new URL('../targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: slowChunkIntervalMs }, core: settings.harnessCore }),
      ]);
      started.push(upstream, slowUpstream);

      const masterKey = `sk-bench-master-${randomBytes(16).toString('hex')}`;
      const fullStack = (name: string, rateLimit: FullStackOptions['rateLimit']): FullStackOptions => {
        let billing: FullStackOptions['billing'];
        if (databaseUrl) {
          const schema = `switchyard_bench_${runId}_${name.replace('-', '_')}`;
          schemas.push(schema);
          billing = { postgres: databaseUrl, schema };
        } else {
          const directory = mkdtempSync(join(tmpdir(), `switchyard-bench-${name}-`));
          directories.push(directory);
          billing = { embedded: directory };
        }
        return {
          billing,
          masterKey,
          rateLimit,
          fallbackGroups: {
            [chainModel]: [`${providerId}/${upstreamModel}`, `backup/${upstreamModel}`],
            [slowChainModel]: [`${slowProviderId}/${upstreamModel}`, `backup/${upstreamModel}`],
          },
          price: { input_per_million: 0.1, output_per_million: 0.4 },
          statsPath,
        };
      };
      const gatewayOptions = (stack?: FullStackOptions): GatewayTargetOptions => ({
        upstreamUrl: upstream.url,
        providerId,
        slowUpstreamUrl: slowUpstream.url,
        slowProviderId,
        upstreamConnections,
        ...(stack ? { fullStack: stack } : {}),
      });
      const gatewayModule = new URL('../targets/gateway.ts', import.meta.url);
      const profileFile = (name: string) => (settings.profileDirectory ? join(settings.profileDirectory, `${name}-${Date.now()}.cpuprofile`) : undefined);
      const [direct, bare, bareSlow, gateway, fullMemory, fullRedis] = await Promise.all([
        spawnTarget({ name: 'direct', module: new URL('../targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: settings.chunkIntervalMs }, core: settings.targetCore }),
        spawnTarget({ name: 'bare', module: new URL('../targets/bare-proxy.ts', import.meta.url), options: { upstreamUrl: upstream.url, connections: upstreamConnections }, core: settings.targetCore }),
        // The bare proxy has one upstream: a second one, in front of the slow upstream, holds the streams open for the memory figure.
        spawnTarget({ name: 'bare (slow upstream)', module: new URL('../targets/bare-proxy.ts', import.meta.url), options: { upstreamUrl: slowUpstream.url, connections: upstreamConnections }, core: settings.targetCore }),
        spawnTarget({ name: 'gateway', module: gatewayModule, options: gatewayOptions(), core: settings.targetCore }),
        spawnTarget({ name: 'full-memory', module: gatewayModule, options: gatewayOptions(fullStack('full-memory', { store: 'memory' })), core: settings.targetCore, cpuProfileFile: profileFile('full-memory') }),
        redisReachable
          ? spawnTarget({
              name: 'full-redis',
              module: gatewayModule,
              options: gatewayOptions(fullStack('full-redis', { store: 'redis', url: redisUrl, keyPrefix: `switchyard:bench:${runId}:rl:` })),
              core: settings.targetCore,
              cpuProfileFile: profileFile('full-redis'),
            })
          : undefined,
      ]);
      started.push(direct, bare, bareSlow, gateway, fullMemory, ...(fullRedis ? [fullRedis] : []));

      const plainHeaders = { authorization: 'Bearer sk-bench' };
      const subject = (name: SubjectName, description: string, process: TargetProcess, model: string, authorization: string, full: boolean): Subject => {
        const url = new URL(process.url);
        const headers = { authorization };
        return {
          name,
          description,
          process,
          model,
          authorization,
          json: distinctChatRequestsInTurn({ url, model, headers, label: 'Question', count: distinctJsonRequests }),
          streams: distinctStreamRequests({ url, model, headers, label: 'Stream' }),
          ...(full ? { statsUrl: new URL(statsPath, url) } : {}),
        };
      };
      const subjects: Subject[] = [
        subject('direct', 'client → mock upstream', direct, upstreamModel, plainHeaders.authorization, false),
        subject('bare', 'client → node:http + undici → mock', bare, upstreamModel, plainHeaders.authorization, false),
        subject('gateway', 'client → createGateway (no plugins) → mock', gateway, `${providerId}/${upstreamModel}`, plainHeaders.authorization, false),
      ];
      for (const [name, process] of [['full-memory', fullMemory], ['full-redis', fullRedis]] as const) {
        if (!process) continue;
        const key = await createVirtualKey(new URL(process.url), masterKey);
        subjects.push(subject(name, `client → gateway + billing, rate limit (${name === 'full-memory' ? 'memory' : 'Redis'}), cache, fallback → mock`, process, chainModel, `Bearer ${key}`, true));
      }

      for (const entry of subjects) await checkAnswers(entry);
      // Every proxy gets one unmeasured pass of held-open streams from the slow upstream: the memory figure
      // is then what 1,000 streams hold, not the code compiled, the heap grown and the upstream connections
      // opened for the first 1,000 (each subject pays those once, before measuring). One subject at a time,
      // after the JSON warm-up: thousands of streams opening at once on one core would time out Redis calls.
      const bareSlowUrl = new URL(bareSlow.url);
      const bareSlowStreams = distinctStreamRequests({ url: bareSlowUrl, model: upstreamModel, headers: plainHeaders, label: 'Slow stream' });
      // One source per subject for the warm-up and the measurement: its requests never repeat, so neither
      // pass is answered from the cache the other filled.
      const slowSources = new Map<SubjectName, RequestSource>();
      const slowStreamsOf = (entry: Subject): RequestSource => {
        let source = slowSources.get(entry.name);
        if (!source) {
          const url = new URL(entry.process.url);
          const model = entry.statsUrl ? slowChainModel : `${slowProviderId}/${upstreamModel}`;
          source = distinctStreamRequests({ url, model, headers: { authorization: entry.authorization }, label: 'Slow stream' });
          slowSources.set(entry.name, source);
        }
        return source;
      };
      const streamingSubjects = subjects.filter((entry) => entry.name !== 'direct' && entry.name !== 'bare');
      for (const entry of subjects) {
        settings.log(`warming up ${entry.name}…`);
        await sendRequests({ url: new URL(entry.process.url), source: entry.json, connections: settings.connections, count: settings.initialWarmupRequests, maxDurationMs: 30_000 });
      }
      const slowWarmUps: Array<[string, URL, RequestSource]> = [
        ['bare', bareSlowUrl, bareSlowStreams],
        ...streamingSubjects.map((entry): [string, URL, RequestSource] => [entry.name, new URL(entry.process.url), slowStreamsOf(entry)]),
      ];
      for (const [name, url, streams] of slowWarmUps) {
        settings.log(`warming up ${name} with ${concurrentStreams} held-open streams…`);
        const result = await openConcurrentStreams(url, Array.from({ length: concurrentStreams }, () => streams())).finished;
        if (result.failed > 0) throw new Error(`${result.failed} of ${name}'s warm-up streams failed.`);
      }

      const rounds = await measureProxyRounds(subjects, settings, (entry) => (entry.name === 'direct' ? [] : [upstream]));

      // Memory per held-open stream: every proxy, each in front of the slow upstream.
      const memory = new Map<SubjectName, StreamMemory>();
      for (const entry of subjects) {
        if (entry.name === 'direct') continue;
        settings.log(`memory of ${entry.name} with ${concurrentStreams} streams open…`);
        if (entry.name === 'bare') {
          memory.set('bare', await measureStreamMemory(bareSlow, bareSlowUrl, bareSlowStreams));
          continue;
        }
        memory.set(entry.name, await measureStreamMemory(entry.process, new URL(entry.process.url), slowStreamsOf(entry)));
      }

      const longRuns = new Map<SubjectName, LongRun>();
      if (settings.longRequests > 0) {
        for (const entry of subjects.filter((candidate) => candidate.statsUrl)) {
          settings.log(`long run of ${entry.name}: ${formatNumber(settings.longRequests)} requests…`);
          longRuns.set(entry.name, await measureLongRun(entry, settings));
        }
      }

      const stats = new Map<SubjectName, FullStackStats>();
      for (const entry of subjects) if (entry.statsUrl) stats.set(entry.name, (await (await fetch(entry.statsUrl)).json()) as FullStackStats);

      const billingStore = databaseUrl ? `PostgreSQL at ${describeDatabase(databaseUrl)} (DATABASE_URL), a schema of its own per subject` : 'embedded (PGlite) in a temporary data directory per subject (set DATABASE_URL for PostgreSQL)';
      return report({ subjects, rounds, memory, longRuns, stats, settings, billingStore, redisUrl, redisReachable });
    } finally {
      await Promise.all(started.map((process) => process.stop()));
      for (const directory of directories) rmSync(directory, { recursive: true, force: true });
      if (databaseUrl && schemas.length > 0) {
        await runMeasurementChild(new URL(import.meta.url), { databaseUrl, schemas } satisfies CleanupOptions).catch((error: unknown) => {
          settings.log(`could not drop the benchmark's schemas (${schemas.join(', ')}): ${(error as Error).message}`);
        });
      }
    }
  },
};

function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** A virtual key made through the admin API, as an operator makes one; limits high enough never to refuse. */
async function createVirtualKey(url: URL, masterKey: string): Promise<string> {
  const response = await fetch(new URL('/admin/keys', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `bench-${randomUUID()}`, rpm: 1_000_000_000, tpm: 1_000_000_000, max_concurrency: 1_000_000 }),
  });
  const body = (await response.json()) as { key?: string };
  if (response.status !== 201 || !body.key) throw new Error(`Creating a virtual key answered HTTP ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.key;
}

/**
 * Refuses to measure a subject that does not answer correctly. For the full stack it also checks that
 * every plugin is at work: the key is required, the answer is a cache miss served by the first target of
 * the chain in one attempt, rate-limit headers and a cost are on it, and the same request again is a hit.
 */
async function checkAnswers(subject: Subject): Promise<void> {
  const url = new URL(subject.process.url);
  const headers = { authorization: subject.authorization };
  const plain = await fetchOnce(url, encodeRequest(url, 'POST', '/v1/chat/completions', distinctChatBody(subject.model, false, 'Check', 0), headers));
  const text = plain.body!.toString('utf8');
  if (plain.status !== 200) throw new Error(`${subject.name} answered HTTP ${plain.status}: ${text.slice(0, 300)}`);
  const completion = JSON.parse(text) as { object?: string; choices?: Array<{ message?: { content?: string } }> };
  if (completion.object !== 'chat.completion' || !completion.choices?.[0]?.message?.content) throw new Error(`${subject.name} did not answer a chat completion: ${text.slice(0, 300)}`);
  const stream = await fetchOnce(url, encodeRequest(url, 'POST', '/v1/chat/completions', distinctChatBody(subject.model, true, 'Check stream', 0), headers));
  const events = stream.body!.toString('utf8').split('\n\n').filter((event) => event.startsWith('data: '));
  const chunks = events.filter((event) => event !== 'data: [DONE]');
  if (stream.status !== 200 || chunks.length !== streamChunkCount || events.at(-1) !== 'data: [DONE]') {
    throw new Error(`${subject.name} did not stream ${streamChunkCount} chunks and [DONE]: HTTP ${stream.status}, ${chunks.length} chunks.`);
  }
  if (!subject.statsUrl) return;

  const post = (body: string, requestHeaders: Record<string, string>) =>
    fetch(new URL('/v1/chat/completions', url), { method: 'POST', headers: { 'content-type': 'application/json', ...requestHeaders }, body });
  const body = distinctChatBody(subject.model, false, 'Check plugins', 0);
  const anonymous = await post(body, {});
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) throw new Error(`${subject.name} answered a request without a key with HTTP ${anonymous.status}, not 401: billing is not enforcing keys.`);
  const first = await post(body, headers);
  await first.arrayBuffer();
  const expected: Record<string, string | null> = {
    'x-switchyard-cache': 'miss',
    'x-switchyard-provider': providerId,
    'x-switchyard-attempts': '1',
  };
  for (const [name, value] of Object.entries(expected)) {
    if (first.headers.get(name) !== value) throw new Error(`${subject.name}: ${name} is '${first.headers.get(name)}', expected '${value}'.`);
  }
  for (const name of ['x-ratelimit-limit-requests', 'x-switchyard-cost-usd']) {
    if (first.headers.get(name) === null) throw new Error(`${subject.name} answered without ${name}: a plugin is not at work.`);
  }
  if (!(Number(first.headers.get('x-switchyard-cost-usd')) > 0)) throw new Error(`${subject.name} billed ${first.headers.get('x-switchyard-cost-usd')}: the model's price was not applied.`);
  const second = await post(body, headers);
  await second.arrayBuffer();
  if (second.headers.get('x-switchyard-cache') !== 'hit') throw new Error(`${subject.name}: the same request again was not a cache hit (x-switchyard-cache: ${second.headers.get('x-switchyard-cache')}): the cache is not at work.`);
}

/**
 * RSS of the process at rest, then with `concurrentStreams` streams open at once (the highest of a few
 * readings once every stream has started), until they all end.
 */
async function measureStreamMemory(target: TargetProcess, url: URL, source: RequestSource): Promise<StreamMemory> {
  // Let the previous measurement's garbage be collected and its connections close.
  await sleep(1_000);
  const before = residentSetBytes(target.pid);
  const requests = Array.from({ length: concurrentStreams }, () => source());
  const startedAt = performance.now();
  const streams = openConcurrentStreams(url, requests);
  let allStarted = true;
  try {
    await streams.allStarted;
  } catch {
    allStarted = false;
  }
  const readings: number[] = [];
  if (allStarted) {
    for (let reading = 0; reading < 5; reading++) {
      const rss = residentSetBytes(target.pid);
      if (rss !== undefined) readings.push(rss);
      await sleep(100);
    }
  }
  const sampledUntil = performance.now();
  const result = await streams.finished;
  return {
    before,
    during: readings.length > 0 ? Math.max(...readings) : undefined,
    completed: result.completed,
    failed: result.failed,
    openSeconds: (result.lastStartedAt - startedAt) / 1000,
    allOpenWhileSampled: allStarted && result.firstEndedAt > sampledUntil,
  };
}

/** Closed-loop load for `longRequests` requests, RSS read before, at every tenth and at the end. */
async function measureLongRun(subject: Subject, settings: BenchSettings): Promise<LongRun> {
  const samples: LongRun['samples'] = [{ answered: 0, rss: residentSetBytes(subject.process.pid) }];
  const result = await sendRequests({
    url: new URL(subject.process.url),
    source: subject.json,
    connections: settings.connections,
    count: settings.longRequests,
    progressEvery: Math.max(1, Math.floor(settings.longRequests / 10)),
    onProgress: (answered) => samples.push({ answered, rss: residentSetBytes(subject.process.pid) }),
  });
  const end = residentSetBytes(subject.process.pid);
  if (samples.at(-1)!.answered !== result.completed) samples.push({ answered: result.completed, rss: end });
  // samples[0] is before the run, samples[1] at 10 %, …, samples[10] at the end.
  const readings = (from: number, to: number) => samples.slice(from, to).flatMap((sample) => (sample.rss === undefined ? [] : [sample.rss]));
  return {
    samples,
    start: (samples[1] ?? samples[0]!).rss,
    end,
    earlyMedian: median(readings(1, 6)),
    lateMedian: median(readings(6, samples.length)),
    requestsPerSecond: result.completed / result.seconds,
    errors: result.errors,
  };
}


interface ReportInput {
  subjects: Subject[];
  rounds: Array<Map<SubjectName, RoundFigures>>;
  memory: Map<SubjectName, StreamMemory>;
  longRuns: Map<SubjectName, LongRun>;
  stats: Map<SubjectName, FullStackStats>;
  settings: BenchSettings;
  billingStore: string;
  redisUrl: string;
  redisReachable: boolean;
}

function report({ subjects, rounds, memory, longRuns, stats, settings, billingStore, redisUrl, redisReachable }: ReportInput): ScenarioReport {
  const statistics = roundStatistics(rounds, 'bare');
  const { added, ratio } = statistics;
  const names = subjects.map((subject) => subject.name);
  const full = subjects.filter((subject) => subject.statsUrl);

  const perThousand = (figures: StreamMemory) =>
    figures.before !== undefined && figures.during !== undefined ? ((figures.during - figures.before) * 1000) / concurrentStreams : Number.NaN;
  const memoryRows = [...memory].map(([name, figures]) => [
    name,
    formatMegabytes(figures.before),
    formatMegabytes(figures.during),
    formatMegabytes(perThousand(figures)),
    `${figures.openSeconds.toFixed(1)} s`,
    `${figures.completed}/${concurrentStreams}`,
    figures.allOpenWhileSampled ? 'yes' : 'NO',
  ]);
  // NaN when either half had no reading: the goal then fails.
  const growth = (run: LongRun) => (run.lateMedian - run.earlyMedian) / run.earlyMedian;
  const longRows = [...longRuns].map(([name, run]) => [
    name,
    formatMegabytes(run.samples[0]!.rss),
    formatMegabytes(run.start),
    formatMegabytes(run.end),
    formatMegabytes(Math.max(...run.samples.map((sample) => sample.rss ?? Number.NaN))),
    formatMegabytes(run.earlyMedian),
    formatMegabytes(run.lateMedian),
    `${growth(run) >= 0 ? '+' : '−'}${Math.abs(growth(run) * 100).toFixed(1)} %`,
    formatNumber(run.requestsPerSecond),
    String(run.errors),
  ]);
  const perRound = full
    .flatMap((subject) => [
      `${`${subject.name}/bare RPS:`.padEnd(29)}${rounds.map((round) => formatRatio(round.get(subject.name)!.requestsPerSecond / round.get('bare')!.requestsPerSecond)).join('  ')}`,
      `${`${subject.name} added p50 latency:`.padEnd(29)}${rounds.map((round) => formatSignedMs(round.get(subject.name)!.latencyP50 - round.get('bare')!.latencyP50)).join('  ')}`,
      `${`${subject.name} added p99 TTFC:`.padEnd(29)}${rounds.map((round) => formatSignedMs(round.get(subject.name)!.firstChunkP99 - round.get('bare')!.firstChunkP99)).join('  ')}`,
    ])
    .join('\n');

  const goals: Goal[] = [];
  for (const subject of full) {
    const throughputRatio = ratio(subject.name, (figures) => figures.requestsPerSecond);
    const addedP50 = added(subject.name, (figures) => figures.latencyP50);
    const addedP99 = added(subject.name, (figures) => figures.latencyP99);
    const addedFirstChunkP99 = added(subject.name, (figures) => figures.firstChunkP99);
    goals.push(
      { description: `${subject.name} RPS ≥ ${minimumThroughputRatio}× bare`, measured: formatRatio(throughputRatio), met: throughputRatio >= minimumThroughputRatio },
      { description: `${subject.name} adds ≤ ${maximumAddedP50Ms} ms p50 latency one at a time`, measured: formatSignedMs(addedP50), met: addedP50 <= maximumAddedP50Ms },
      { description: `${subject.name} adds ≤ ${maximumAddedP99Ms} ms p99 latency one at a time`, measured: formatSignedMs(addedP99), met: addedP99 <= maximumAddedP99Ms },
      { description: `${subject.name} adds ≤ ${maximumAddedFirstChunkP99Ms} ms p99 time to first chunk`, measured: formatSignedMs(addedFirstChunkP99), met: addedFirstChunkP99 <= maximumAddedFirstChunkP99Ms },
    );
    const streams = memory.get(subject.name);
    if (streams) {
      const megabytes = perThousand(streams) / 1024 / 1024;
      const valid = streams.allOpenWhileSampled && streams.failed === 0;
      goals.push({
        description: `${subject.name} ≤ ${maximumMegabytesPerThousandStreams} MB RSS per 1,000 concurrent streams`,
        measured: `${formatMegabytes(perThousand(streams))}${valid ? '' : ' (not every stream was open while sampled: no valid figure)'}`,
        met: valid && megabytes <= maximumMegabytesPerThousandStreams,
      });
    }
    const run = longRuns.get(subject.name);
    if (run) {
      goals.push({
        description: `${subject.name} RSS flat over ${formatNumber(settings.longRequests)} requests (median of 60–100 % ≤ median of 10–50 % + ${maximumLongRunGrowth * 100} %)`,
        measured: `${formatMegabytes(run.earlyMedian)} → ${formatMegabytes(run.lateMedian)} (single readings ${formatMegabytes(run.start)} at 10 %, ${formatMegabytes(run.end)} at the end)`,
        met: growth(run) <= maximumLongRunGrowth && run.errors === 0,
      });
    }
  }

  const setup = [
    `billing: virtual key (no budget, limits far above the load), ${billingStore}`,
    `rate limit: full-memory in memory; full-redis ${redisReachable ? `on Redis at ${redisUrl} (its CPU is not counted in the subject's)` : `not measured: Redis at ${redisUrl} did not answer PING`}`,
    `cache: memory, every request a miss (${formatNumber(distinctJsonRequests)} distinct JSON requests in turn, never-repeated streams); fallback: chain ${chainModel} = mock → backup, the first always answers`,
    ...[...stats].map(
      ([name, figures]) =>
        `${name}: ${formatNumber(figures.cacheLookups)} cache lookups, ${figures.cacheHits} hit${figures.cacheHits === 1 ? '' : 's'} (1 expected: the check that the cache works), ${figures.rateLimitUnchecked} requests unchecked by the rate-limit store`,
    ),
  ].join('\n');
  const sections: ReportSection[] = [
    { title: 'What the full stack runs', body: setup },
    ...proxyRoundSections(names, statistics, 'bare', settings),
    {
      title: `Memory with ${formatNumber(concurrentStreams)} concurrent streams (${slowChunkIntervalMs} ms between chunks, one connection each), RSS of the subject's process`,
      body: renderTable(['subject', 'RSS at rest', 'RSS streams open', 'per 1,000 streams', 'all started in', 'completed', 'all open while read'], memoryRows),
    },
  ];
  if (longRows.length > 0) {
    sections.push({
      title: `Long run: ${formatNumber(settings.longRequests)} non-streamed requests (all cache misses), ${settings.connections} connections, RSS read every tenth`,
      body: `${renderTable(['subject', 'RSS before', 'RSS at 10 %', 'RSS end', 'RSS peak', 'median 10–50 %', 'median 60–100 %', 'growth', 'RPS', 'errors'], longRows)}\n${[...longRuns]
        .map(([name, run]) => `${name}: ${run.samples.map((sample) => formatMegabytes(sample.rss).replace(' MB', '')).join(' → ')} MB`)
        .join('\n')}`,
    });
  }
  sections.push({ title: `Per round (${settings.rounds} rounds; the tables show medians)`, body: perRound });

  const warning = starvedSubjectsWarning(names.filter((name) => name !== 'direct'), statistics, 'other processes (or the database)');
  if (warning) sections.push(warning);
  return { sections, goals };
}

/** After a run on PostgreSQL: each subject's schema (keys, ledger) goes, so runs leave nothing behind. */
async function dropSchemas(options: CleanupOptions): Promise<void> {
  const { openPostgres } = await import('@switchyard/plugin-billing');
  const client = openPostgres({ connectionString: options.databaseUrl });
  try {
    for (const schema of options.schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.close();
  }
}

if (isMeasurementChild(import.meta.url)) await serveMeasurement(dropSchemas);
