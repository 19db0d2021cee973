/*
 * What the cache buys and costs:
 *
 * 1. Semantic lookup: `VectorIndex` filled with `LocalEmbedder` vectors of distinct generated questions, in
 *    one partition (one tenant), at 10,000 and 100,000 entries. Queried with near-duplicates of stored
 *    questions (a typo and different filler: should hit, and hit the right entry) and with random unit
 *    vectors (unrelated: should miss). Runs in a process of its own on the target core; the same queries are
 *    timed `--rounds` times and the median round reported, with the mean CPU time per lookup, which other
 *    processes on the core hardly move.
 * 2. Exact hits against the upstream: the same gateway (no other plugins) with `createCachePlugin()` in
 *    memory and without it, sending one identical non-streamed request: with the cache every answer after
 *    the first is a hit and the upstream is never asked; without it every answer makes the upstream trip.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Gateway } from '@switchyard/core';
import { isMeasurementChild, runMeasurementChild, serveMeasurement } from '../lib/child-measurement.js';
import { encodeRequest } from '../lib/http-connection.js';
import { fetchOnce, measureThroughput, warmUp } from '../lib/load.js';
import { chatRequestBody, upstreamModel } from '../lib/openai-payloads.js';
import { spawnTarget, type TargetProcess } from '../lib/processes.js';
import type { BenchSettings, Goal, Scenario, ScenarioReport } from '../lib/scenario.js';
import { formatMs, formatNumber, formatPercent, formatRatio, median, percentile } from '../lib/stats.js';
import { renderTable } from '../lib/table.js';
import { readTargetOptions, serveTarget, targetOptionsVariable } from '../lib/target-process.js';

/** The semantic cache's promise: a lookup stays under a millisecond with 100,000 answers stored. */
const maximumLookupP99Ms = 1;
const indexSizes = [10_000, 100_000] as const;
const queriesPerKind = 2_000;
const warmupQueries = 500;
/** The local embedder's default threshold in the cache plugin. */
const threshold = 0.8;
const dimensions = 256;
const providerId = 'mock';

interface LookupFigures {
  entries: number;
  kind: string;
  /** Medians over the rounds. */
  p50: number;
  p99: number;
  p99PerRound: number[];
  cpuMicrosecondsPerLookup: number;
  /** Share of queries that found an entry at or above the threshold. */
  hitRate: number;
  /** Share of queries that found the very entry they were derived from (near-duplicates only). */
  rightHitRate: number | undefined;
}

interface LookupResult {
  figures: LookupFigures[];
  fillSeconds: number[];
  /** The part of each fill spent in `VectorIndex.add` (the rest is embedding the questions). */
  addSeconds: number[];
}

interface LookupOptions {
  rounds: number;
}

interface GatewayOptions {
  upstreamUrl: string;
  cache: boolean;
}

export const cacheScenario: Scenario = {
  name: 'cache',
  summary: 'semantic lookup p50/p99 at 10k and 100k entries with hit rates; exact-hit RPS vs upstream RPS through the gateway',

  async run(settings: BenchSettings): Promise<ScenarioReport> {
    settings.log(`filling a vector index to ${indexSizes.map((size) => formatNumber(size)).join(' and ')} entries and querying it…`);
    const lookup = await runMeasurementChild<LookupResult>(new URL(import.meta.url), { rounds: settings.rounds } satisfies LookupOptions, settings.targetCore);
    const lookupRows = lookup.figures.map((figures) => [
      formatNumber(figures.entries),
      figures.kind,
      formatMs(figures.p50),
      formatMs(figures.p99),
      `${formatNumber(figures.cpuMicrosecondsPerLookup)} µs`,
      formatPercent(figures.hitRate),
      figures.rightHitRate === undefined ? '' : formatPercent(figures.rightHitRate),
    ]);
    const largest = lookup.figures.filter((figures) => figures.entries === indexSizes.at(-1));
    const worstP99 = Math.max(...largest.map((figures) => figures.p99));

    const exact = await measureExactHits(settings);
    const goals: Goal[] = [
      { description: `semantic lookup p99 ≤ ${maximumLookupP99Ms} ms at ${formatNumber(indexSizes.at(-1)!)} entries`, measured: formatMs(worstP99), met: worstP99 <= maximumLookupP99Ms },
    ];
    return {
      sections: [
        {
          title: `Semantic lookup: VectorIndex (${dimensions} dimensions, one partition) of LocalEmbedder vectors of distinct questions, threshold ${threshold}, ${queriesPerKind} queries per kind, ${settings.rounds} rounds (medians)`,
          body: [
            renderTable(['entries', 'queries', 'p50', 'p99', 'CPU/lookup', 'hits', 'right entry'], lookupRows),
            `p99 per round at ${formatNumber(indexSizes.at(-1)!)}: ${largest.map((figures) => `${figures.kind} ${figures.p99PerRound.map((p99) => formatMs(p99)).join('  ')}`).join('; ')}`,
            `filled in ${lookup.fillSeconds.map((seconds, position) => `${seconds.toFixed(1)} s (index ${lookup.addSeconds[position]!.toFixed(1)} s)`).join(' and ')}`,
          ].join('\n'),
        },
        {
          title: `Exact cache hits vs upstream trips: one identical request, ${settings.connections} connections, ${settings.durationMs / 1000} s per run, ${settings.rounds} rounds (medians)`,
          body: exact.body,
        },
      ],
      goals,
    };
  },
};

async function measureExactHits(settings: BenchSettings): Promise<{ body: string }> {
  const started: TargetProcess[] = [];
  try {
    settings.log('starting the mock upstream and the gateway with and without the cache…');
    const upstream = await spawnTarget({ name: 'mock upstream', module: new URL('../targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: settings.chunkIntervalMs }, core: settings.harnessCore });
    started.push(upstream);
    const gatewayModule = new URL(import.meta.url);
    const subjects = await Promise.all(
      [true, false].map(async (cache) => {
        const process = await spawnTarget({ name: cache ? 'gateway + cache' : 'gateway', module: gatewayModule, options: { upstreamUrl: upstream.url, cache } satisfies GatewayOptions, core: settings.targetCore });
        started.push(process);
        return { name: process.name, cache, process };
      }),
    );
    const requestFor = (url: URL) => encodeRequest(url, 'POST', '/v1/chat/completions', chatRequestBody(`${providerId}/${upstreamModel}`, false), { authorization: 'Bearer sk-bench' });

    for (const subject of subjects) {
      // The first answer fills the cache; the second must come from it (checked on the header), or the run is no measure of hits.
      const url = new URL(subject.process.url);
      const first = await fetchOnce(url, requestFor(url));
      if (first.status !== 200) throw new Error(`${subject.name} answered HTTP ${first.status}: ${first.body?.toString('utf8').slice(0, 300)}`);
      const response = await fetch(new URL('/v1/chat/completions', url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
        body: chatRequestBody(`${providerId}/${upstreamModel}`, false),
      });
      await response.arrayBuffer();
      const status = response.headers.get('x-switchyard-cache');
      if (subject.cache && status !== 'hit') throw new Error(`${subject.name}: the second identical request was not a cache hit (x-switchyard-cache: ${status}).`);
      if (!subject.cache && status !== null) throw new Error(`${subject.name} answered from a cache (x-switchyard-cache: ${status}).`);
      settings.log(`warming up ${subject.name}…`);
      await warmUp({ url, request: requestFor(url), connections: settings.connections, requests: settings.initialWarmupRequests, maxDurationMs: 15_000 });
    }

    const rounds: Array<Map<string, { rps: number; p50: number; p99: number; cpuPerRequest: number | undefined; errors: number }>> = [];
    for (let round = 0; round < settings.rounds; round++) {
      const figures = new Map<string, { rps: number; p50: number; p99: number; cpuPerRequest: number | undefined; errors: number }>();
      for (const subject of round % 2 === 0 ? subjects : [...subjects].reverse()) {
        settings.log(`round ${round + 1}/${settings.rounds}: throughput of ${subject.name}…`);
        const url = new URL(subject.process.url);
        const result = await measureThroughput({ url, request: requestFor(url), connections: settings.connections, warmupMs: settings.warmupMs, durationMs: settings.durationMs, target: subject.process, harness: [upstream] });
        figures.set(subject.name, {
          rps: result.requestsPerSecond,
          p50: percentile(result.latencies, 50),
          p99: percentile(result.latencies, 99),
          cpuPerRequest: result.targetCpuPerRequestMicroseconds,
          errors: result.errors,
        });
      }
      rounds.push(figures);
    }
    const mid = (name: string, pick: (figures: { rps: number; p50: number; p99: number; cpuPerRequest: number | undefined; errors: number }) => number) =>
      median(rounds.map((round) => pick(round.get(name)!)));
    const ratios = rounds.map((round) => round.get('gateway + cache')!.rps / round.get('gateway')!.rps);
    const rows = subjects.map((subject) => [
      subject.name,
      subject.cache ? 'every answer a hit' : 'every answer from the upstream',
      formatNumber(mid(subject.name, (figures) => figures.rps)),
      formatMs(mid(subject.name, (figures) => figures.p50), 2),
      formatMs(mid(subject.name, (figures) => figures.p99), 2),
      `${formatNumber(mid(subject.name, (figures) => figures.cpuPerRequest ?? Number.NaN))} µs`,
      String(rounds.reduce((sum, round) => sum + round.get(subject.name)!.errors, 0)),
    ]);
    return {
      body: `${renderTable(['subject', 'answers', 'RPS', 'p50', 'p99', 'CPU/request', 'errors'], rows)}\ncache-hit RPS / upstream RPS: ${formatRatio(median(ratios))} (per round: ${ratios.map(formatRatio).join('  ')})`,
    };
  } finally {
    await Promise.all(started.map((process) => process.stop()));
  }
}

/**
 * Distinct questions in one template over a vocabulary of 6,000 made-up words (syllable strings): real
 * traffic spans thousands of content words, and a handful of English word lists would make every stored
 * question share trigrams with every other, which is not what a cache of many users' questions looks like.
 */
function questionGenerator(): () => string {
  let state = 0x9e3779b9;
  const random = (length: number) => {
    // xorshift32: the same questions on every run, so runs compare.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % length;
  };
  const syllables = 'ka lo mi ne ru ta vi so pe du ga ri mo le fa zu bi ho ce ny'.split(' ');
  const vocabulary = new Set<string>();
  while (vocabulary.size < 6_000) {
    let word = '';
    for (let count = 2 + random(3); count > 0; count--) word += syllables[random(syllables.length)];
    vocabulary.add(word);
  }
  const words = [...vocabulary];
  const word = () => words[random(words.length)]!;
  const seen = new Set<string>();
  return () => {
    for (;;) {
      const question = `How do I ${word()} a ${word()} ${word()} and ${word()} the ${word()} in the ${word()}?`;
      if (!seen.has(question)) {
        seen.add(question);
        return question;
      }
    }
  };
}

/** The same question typed again: other filler words and punctuation, and a pair of letters swapped in one word. */
function nearDuplicate(question: string, variant: number): string {
  const words = question.replace('How do I ', '').replace('?', '').split(' ');
  const contentPositions = [0, 2, 3, 5, 7, 10];
  const position = contentPositions[variant % contentPositions.length]!;
  const word = words[position]!;
  if (word.length > 4) words[position] = `${word.slice(0, 2)}${word[3]}${word[2]}${word.slice(4)}`;
  return `please, can you tell me how I ${words.join(' ')}!!`;
}

function randomUnitVector(): Float32Array {
  const vector = new Float32Array(dimensions);
  let norm = 0;
  for (let index = 0; index < dimensions; index++) {
    // Box–Muller: Gaussian components make the direction uniform on the sphere.
    const value = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    vector[index] = value;
    norm += value * value;
  }
  norm = Math.sqrt(norm);
  for (let index = 0; index < dimensions; index++) vector[index]! /= norm;
  return vector;
}

async function measureLookups(options: LookupOptions): Promise<LookupResult> {
  const { LocalEmbedder, VectorIndex } = await import('@switchyard/plugin-cache');
  const embedder = new LocalEmbedder(dimensions);
  const index = new VectorIndex<number>({ dimensions, maxEntries: indexSizes.at(-1)! });
  const partition = `tenant-${randomUUID()}`;
  const nextQuestion = questionGenerator();
  const stored: string[] = [];
  const expiresAt = Date.now() + 3_600_000;
  const figures: LookupFigures[] = [];
  const fillSeconds: number[] = [];
  const addSeconds: number[] = [];

  for (const size of indexSizes) {
    const fillStartedAt = performance.now();
    let adding = 0;
    while (stored.length < size) {
      const question = nextQuestion();
      const vector = embedder.embedOne(question);
      const addStartedAt = performance.now();
      index.add(partition, vector, stored.length, expiresAt);
      adding += performance.now() - addStartedAt;
      stored.push(question);
    }
    fillSeconds.push((performance.now() - fillStartedAt) / 1000);
    addSeconds.push(adding / 1000);

    // Query vectors are made before timing: the lookup is what is measured, not the embedding.
    const duplicates = Array.from({ length: queriesPerKind + warmupQueries }, (_, query) => {
      const source = Math.floor(Math.random() * stored.length);
      return { vector: embedder.embedOne(nearDuplicate(stored[source]!, query)), source };
    });
    const unrelated = Array.from({ length: queriesPerKind + warmupQueries }, () => ({ vector: randomUnitVector(), source: -1 }));
    for (const [kind, queries] of [['near-duplicates', duplicates], ['unrelated vectors', unrelated]] as const) {
      const rounds: Array<{ p50: number; p99: number; cpuMicroseconds: number }> = [];
      let hits = 0;
      let rightHits = 0;
      for (let round = 0; round < options.rounds; round++) {
        const latencies = new Float64Array(queriesPerKind);
        let cpuAtStart: NodeJS.CpuUsage | undefined;
        hits = 0;
        rightHits = 0;
        queries.forEach((query, position) => {
          if (position === warmupQueries) cpuAtStart = process.cpuUsage();
          const startedAt = performance.now();
          const hit = index.search(partition, query.vector, threshold);
          const elapsed = performance.now() - startedAt;
          if (position < warmupQueries) return;
          latencies[position - warmupQueries] = elapsed;
          if (hit) hits++;
          if (hit?.value === query.source) rightHits++;
        });
        const cpu = process.cpuUsage(cpuAtStart);
        rounds.push({ p50: percentile(latencies, 50), p99: percentile(latencies, 99), cpuMicroseconds: (cpu.user + cpu.system) / queriesPerKind });
      }
      figures.push({
        entries: size,
        kind,
        p50: median(rounds.map((round) => round.p50)),
        p99: median(rounds.map((round) => round.p99)),
        p99PerRound: rounds.map((round) => round.p99),
        cpuMicrosecondsPerLookup: median(rounds.map((round) => round.cpuMicroseconds)),
        hitRate: hits / queriesPerKind,
        rightHitRate: kind === 'near-duplicates' ? rightHits / queriesPerKind : undefined,
      });
    }
  }
  return { figures, fillSeconds, addSeconds };
}

if (isMeasurementChild(import.meta.url)) await serveMeasurement(measureLookups);

// Started by `spawnTarget` as the gateway under test: with or without the memory cache in front of the mock.
if (process.env[targetOptionsVariable] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveTarget(async () => {
    const options = readTargetOptions<GatewayOptions>();
    const [{ createGateway }, { createOpenAICompatible }, { createCachePlugin }] = await Promise.all([
      import('@switchyard/core'),
      import('@switchyard/providers'),
      import('@switchyard/plugin-cache'),
    ]);
    const gateway: Gateway = createGateway({
      providers: [createOpenAICompatible({ id: providerId, baseURL: `${options.upstreamUrl}/v1`, apiKey: 'bench' })],
      plugins: options.cache ? [createCachePlugin({ store: 'memory' })] : [],
    });
    const { url } = await gateway.listen(0, '127.0.0.1');
    return { url, close: () => gateway.close() };
  });
}
