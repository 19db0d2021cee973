/*
 * The three measurements every proxy scenario takes of each subject, round after round: throughput under
 * closed-loop load, latency one request at a time, and time to first chunk of a stream. Shared by the
 * foundation and fullstack scenarios so both measure exactly the same way.
 */
import { streamChunkCount } from './openai-payloads.js';
import type { TargetProcess } from './processes.js';
import { measureRotatingSequential, measureRotatingThroughput, type RequestSource } from './rotating-load.js';
import type { BenchSettings, ReportSection } from './scenario.js';
import { formatMs, formatNumber, formatPercent, formatRatio, formatSignedMs, median, percentile } from './stats.js';
import { renderTable } from './table.js';

/** One throughput run's figures. */
export interface ThroughputFigures {
  requestsPerSecond: number;
  throughputP50: number;
  throughputP99: number;
  /** CPU of the subject (its whole process tree, when it has one) as a share of one core. */
  targetCpu: number | undefined;
  cpuPerRequest: number | undefined;
  harnessCpu: number;
  errors: number;
}

export interface RoundFigures extends ThroughputFigures {
  latencyP50: number;
  latencyP99: number;
  firstChunkP50: number;
  firstChunkP99: number;
  streamP50: number;
}

export interface RoundSubject<Name extends string> {
  name: Name;
  process: TargetProcess;
  /** Non-streamed requests, for throughput and latency. */
  json: RequestSource;
  /** Streamed requests, for time to first chunk. */
  streams: RequestSource;
}

/** Closed-loop throughput of one subject at `--connections`, with its CPU and the harness's. */
export async function measureThroughputFigures(
  subject: { process: Pick<TargetProcess, 'url' | 'cpuMicroseconds'>; json: RequestSource },
  settings: BenchSettings,
  harness: ReadonlyArray<Pick<TargetProcess, 'cpuMicroseconds'>>,
): Promise<ThroughputFigures> {
  const result = await measureRotatingThroughput({
    url: new URL(subject.process.url),
    source: subject.json,
    connections: settings.connections,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    target: subject.process,
    harness,
  });
  return {
    requestsPerSecond: result.requestsPerSecond,
    throughputP50: percentile(result.latencies, 50),
    throughputP99: percentile(result.latencies, 99),
    targetCpu: result.targetCpu,
    cpuPerRequest: result.targetCpuPerRequestMicroseconds,
    harnessCpu: result.harnessCpu,
    errors: result.errors,
  };
}

/**
 * `settings.rounds` rounds of the three measurements, one map of figures per round. Subjects take turns in
 * an order rotated every round, which spreads any drift (another process waking up, thermal state) over
 * all of them. `harness` is what shares the load generator's core (the mock upstream), left out for `direct`.
 */
export async function measureProxyRounds<Name extends string>(
  subjects: ReadonlyArray<RoundSubject<Name>>,
  settings: BenchSettings,
  harness: (subject: RoundSubject<Name>) => TargetProcess[],
): Promise<Array<Map<Name, RoundFigures>>> {
  const rounds: Array<Map<Name, RoundFigures>> = [];
  for (let round = 0; round < settings.rounds; round++) {
    const ordered = subjects.map((_, index) => subjects[(index + round) % subjects.length]!);
    const figures = new Map<Name, Partial<RoundFigures>>(subjects.map((subject) => [subject.name, {}]));
    const label = (what: string, subject: RoundSubject<Name>) => settings.log(`round ${round + 1}/${settings.rounds}: ${what} of ${subject.name}…`);
    for (const subject of ordered) {
      label('throughput', subject);
      Object.assign(figures.get(subject.name)!, await measureThroughputFigures(subject, settings, harness(subject)));
    }
    // One at a time, after a fifth as many unmeasured requests.
    const alone = (subject: RoundSubject<Name>, source: RequestSource, requests: number) =>
      measureRotatingSequential({ url: new URL(subject.process.url), source, warmupRequests: Math.ceil(requests / 5), requests });
    for (const subject of ordered) {
      label('one-at-a-time latency', subject);
      const result = await alone(subject, subject.json, settings.latencyRequests);
      const entry = figures.get(subject.name)!;
      entry.latencyP50 = percentile(result.latencies, 50);
      entry.latencyP99 = percentile(result.latencies, 99);
      entry.errors = (entry.errors ?? 0) + result.errors;
    }
    for (const subject of ordered) {
      label('time to first chunk', subject);
      const result = await alone(subject, subject.streams, settings.streamRequests);
      const entry = figures.get(subject.name)!;
      entry.firstChunkP50 = percentile(result.timesToFirstByte, 50);
      entry.firstChunkP99 = percentile(result.timesToFirstByte, 99);
      entry.streamP50 = percentile(result.latencies, 50);
      entry.errors = (entry.errors ?? 0) + result.errors;
    }
    rounds.push(figures as Map<Name, RoundFigures>);
  }
  return rounds;
}

/** Medians over the rounds, and figures paired with the bare proxy's of the same round. */
export interface RoundStatistics<Name extends string> {
  all(name: Name, pick: (figures: RoundFigures) => number): number[];
  mid(name: Name, pick: (figures: RoundFigures) => number): number;
  /** Subject minus bare, paired within each round (measured minutes apart at most), then the median. */
  added(name: Name, pick: (figures: RoundFigures) => number): number;
  /** Subject divided by bare, paired within each round, then the median. */
  ratio(name: Name, pick: (figures: RoundFigures) => number | undefined): number;
  errors(name: Name): number;
}

export function roundStatistics<Name extends string>(rounds: ReadonlyArray<Map<Name, RoundFigures>>, bare: Name): RoundStatistics<Name> {
  const all = (name: Name, pick: (figures: RoundFigures) => number) => rounds.map((round) => pick(round.get(name)!));
  return {
    all,
    mid: (name, pick) => median(all(name, pick)),
    added: (name, pick) => median(rounds.map((round) => pick(round.get(name)!) - pick(round.get(bare)!))),
    ratio: (name, pick) => median(rounds.map((round) => (pick(round.get(name)!) ?? Number.NaN) / (pick(round.get(bare)!) ?? Number.NaN))),
    errors: (name) => all(name, (figures) => figures.errors).reduce((sum, count) => sum + count, 0),
  };
}

/** The throughput, latency and time-to-first-chunk tables, one row per subject, medians of the rounds. */
export function proxyRoundSections<Name extends string>(names: readonly Name[], statistics: RoundStatistics<Name>, bare: Name, settings: BenchSettings): ReportSection[] {
  const { mid, added, ratio, errors } = statistics;
  const againstBare = (name: Name, pick: (figures: RoundFigures) => number) => (name === bare ? '' : formatSignedMs(added(name, pick)));
  const throughputRows = names.map((name) => [
    name,
    formatNumber(mid(name, (figures) => figures.requestsPerSecond)),
    formatRatio(ratio(name, (figures) => figures.requestsPerSecond)),
    formatMs(mid(name, (figures) => figures.throughputP50), 2),
    formatMs(mid(name, (figures) => figures.throughputP99), 2),
    formatPercent(mid(name, (figures) => figures.targetCpu ?? Number.NaN)),
    `${formatNumber(mid(name, (figures) => figures.cpuPerRequest ?? Number.NaN))} µs`,
    formatRatio(ratio(name, (figures) => figures.cpuPerRequest)),
    String(errors(name)),
  ]);
  const latencyRows = names.map((name) => [
    name,
    formatMs(mid(name, (figures) => figures.latencyP50)),
    formatMs(mid(name, (figures) => figures.latencyP99)),
    againstBare(name, (figures) => figures.latencyP50),
    againstBare(name, (figures) => figures.latencyP99),
  ]);
  const streamRows = names.map((name) => [
    name,
    formatMs(mid(name, (figures) => figures.firstChunkP50)),
    formatMs(mid(name, (figures) => figures.firstChunkP99)),
    againstBare(name, (figures) => figures.firstChunkP50),
    againstBare(name, (figures) => figures.firstChunkP99),
    formatMs(mid(name, (figures) => figures.streamP50), 2),
  ]);
  return [
    {
      title: `Throughput: non-streamed chat completions, ${settings.connections} connections, ${settings.durationMs / 1000} s per run`,
      body: renderTable(['subject', 'RPS', 'vs bare', 'p50', 'p99', 'target CPU', 'CPU/request', 'vs bare', 'errors'], throughputRows),
    },
    { title: `Latency one request at a time: ${settings.latencyRequests} requests per run`, body: renderTable(['subject', 'p50', 'p99', 'added p50', 'added p99'], latencyRows) },
    {
      title: `Time to first chunk of a ${streamChunkCount}-chunk stream (${settings.chunkIntervalMs} ms between chunks): ${settings.streamRequests} streams per run`,
      body: renderTable(['subject', 'TTFC p50', 'TTFC p99', 'added p50', 'added p99', 'whole stream p50'], streamRows),
    },
  ];
}

/**
 * A warning for subjects that used less than 90 % of their core under load: either the harness was the
 * limit or something else took the CPU (`otherCause` names what may have).
 */
export function starvedSubjectsWarning<Name extends string>(names: readonly Name[], statistics: RoundStatistics<Name>, otherCause: string): ReportSection | undefined {
  const starved = names
    .map((name) => ({ name, cpu: statistics.mid(name, (figures) => figures.targetCpu ?? Number.NaN), harness: statistics.mid(name, (figures) => figures.harnessCpu) }))
    .filter((entry) => Number.isFinite(entry.cpu) && entry.cpu < 0.9);
  if (starved.length === 0) return undefined;
  return {
    title: 'Warning',
    body: starved
      .map(
        (entry) =>
          `${entry.name} used ${formatPercent(entry.cpu)} of its core while the load generator and mock upstream used ${formatPercent(entry.harness)} of theirs: ` +
          (entry.harness >= 0.9 ? 'the harness was the limit, so its RPS understates its capacity.' : `${otherCause} were taking CPU; trust CPU/request more than RPS.`),
      )
      .join('\n'),
  };
}
