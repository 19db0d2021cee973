/*
 * The three measurements every proxy scenario takes of each subject, round after round: throughput under
 * closed-loop load, latency one request at a time, and time to first chunk of a stream. Shared by the
 * foundation and fullstack scenarios so both measure exactly the same way.
 */
import type { TargetProcess } from './processes.js';
import { measureRotatingSequential, measureRotatingThroughput, type RequestSource } from './rotating-load.js';
import type { BenchSettings } from './scenario.js';
import { percentile } from './stats.js';

export interface RoundFigures {
  requestsPerSecond: number;
  throughputP50: number;
  throughputP99: number;
  targetCpu: number | undefined;
  cpuPerRequest: number | undefined;
  harnessCpu: number;
  errors: number;
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
      const result = await measureRotatingThroughput({
        url: new URL(subject.process.url),
        source: subject.json,
        connections: settings.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.durationMs,
        target: subject.process,
        harness: harness(subject),
      });
      Object.assign(figures.get(subject.name)!, {
        requestsPerSecond: result.requestsPerSecond,
        throughputP50: percentile(result.latencies, 50),
        throughputP99: percentile(result.latencies, 99),
        targetCpu: result.targetCpu,
        cpuPerRequest: result.targetCpuPerRequestMicroseconds,
        harnessCpu: result.harnessCpu,
        errors: result.errors,
      });
    }
    for (const subject of ordered) {
      label('one-at-a-time latency', subject);
      const result = await measureRotatingSequential({ url: new URL(subject.process.url), source: subject.json, warmupRequests: Math.ceil(settings.latencyRequests / 5), requests: settings.latencyRequests });
      const entry = figures.get(subject.name)!;
      entry.latencyP50 = percentile(result.latencies, 50);
      entry.latencyP99 = percentile(result.latencies, 99);
      entry.errors = (entry.errors ?? 0) + result.errors;
    }
    for (const subject of ordered) {
      label('time to first chunk', subject);
      const result = await measureRotatingSequential({ url: new URL(subject.process.url), source: subject.streams, warmupRequests: Math.ceil(settings.streamRequests / 5), requests: settings.streamRequests });
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
