/*
 * Load of many different requests. load.ts writes one pre-encoded request again and again, which is right
 * for a proxy but not for a gateway with a response cache: the second identical request is a hit, and
 * identical requests in flight together share one upstream call. These helpers take the request to send
 * from a `RequestSource` instead, so every request can differ, and otherwise measure as load.ts does
 * (same client, same windows, same CPU accounting).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeepAliveConnection, type ResponseTiming } from './http-connection.js';
import type { SequentialResult, ThroughputResult } from './load.js';
import type { TargetProcess } from './processes.js';

/** Hands out the next request to send, pre-encoded. */
export type RequestSource = () => Buffer;

/**
 * The requests in turn, starting over after the last. Sent by concurrent connections, two uses of the same
 * request are `requests.length` sends apart, give or take the number of connections: with more requests
 * than a least-recently-used cache holds, each one has been evicted before it comes round again.
 */
export function inTurn(requests: readonly Buffer[]): RequestSource {
  if (requests.length === 0) throw new Error('inTurn needs at least one request.');
  let next = 0;
  return () => {
    const request = requests[next]!;
    next = next + 1 === requests.length ? 0 : next + 1;
    return request;
  };
}

/** A request never sent before each time, encoded when asked for: for runs of a few thousand requests. */
export function neverRepeating(encode: (serial: number) => Buffer): RequestSource {
  let serial = 0;
  return () => encode(serial++);
}

export interface RotatingThroughputOptions {
  url: URL;
  source: RequestSource;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The system under test: its CPU use over the window is reported. */
  target?: Pick<TargetProcess, 'cpuMicroseconds'>;
  /** Processes sharing the load generator's core: their CPU counts as the harness's. */
  harness?: ReadonlyArray<Pick<TargetProcess, 'cpuMicroseconds'>>;
}

/** Closed loop with a request source, each connection sending the next request when its last one answered (load.ts's `measureThroughput` is this with one request). */
export async function measureRotatingThroughput(options: RotatingThroughputOptions): Promise<ThroughputResult> {
  const connections = await Promise.all(Array.from({ length: options.connections }, () => KeepAliveConnection.open(options.url)));
  const startedAt = performance.now();
  const windowStart = startedAt + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies: number[] = [];
  let errors = 0;

  const takeSample = async () => {
    const before = performance.now();
    const own = process.cpuUsage();
    const [target, ...harness] = await Promise.all([options.target?.cpuMicroseconds(), ...(options.harness ?? []).map((child) => child.cpuMicroseconds())]);
    // Each child read its clock somewhere in the round trip; its middle is the best guess.
    return { at: (before + performance.now()) / 2, target, harness: own.user + own.system + harness.reduce<number>((sum, value) => sum + value!, 0) };
  };
  const firstSample = sleep(options.warmupMs).then(takeSample);
  const lastSample = sleep(options.warmupMs + options.durationMs).then(takeSample);

  await Promise.all(
    connections.map(async (connection) => {
      while (performance.now() < windowEnd) {
        let timing: ResponseTiming;
        try {
          timing = await connection.send(options.source());
        } catch {
          errors++;
          return;
        }
        if (timing.status !== 200) errors++;
        else if (timing.sentAt >= windowStart && timing.endAt <= windowEnd) latencies.push(timing.endAt - timing.sentAt);
      }
    }),
  );
  for (const connection of connections) connection.close();

  const [first, last] = await Promise.all([firstSample, lastSample]);
  const sampledMs = last.at - first.at;
  let targetCpu: number | undefined;
  let targetCpuPerRequestMicroseconds: number | undefined;
  if (first.target !== undefined && last.target !== undefined) {
    const usedMicroseconds = last.target - first.target;
    targetCpu = usedMicroseconds / 1000 / sampledMs;
    // Requests completed over the sampled span, estimated from the window's rate.
    targetCpuPerRequestMicroseconds = usedMicroseconds / ((latencies.length * sampledMs) / options.durationMs);
  }
  return {
    // Counting requests that both started and ended inside the window undercounts by at most one request
    // per connection at each edge; with thousands per second that is well under 1 %.
    requestsPerSecond: latencies.length / (options.durationMs / 1000),
    completed: latencies.length,
    errors,
    latencies: Float64Array.from(latencies),
    targetCpu,
    targetCpuPerRequestMicroseconds,
    harnessCpu: (last.harness - first.harness) / 1000 / sampledMs,
  };
}

/** One at a time on one keep-alive connection, from a request source (load.ts's `measureSequential` is this with one request). */
export async function measureRotatingSequential(options: { url: URL; source: RequestSource; warmupRequests: number; requests: number }): Promise<SequentialResult> {
  const connection = await KeepAliveConnection.open(options.url);
  const latencies = new Float64Array(options.requests);
  const timesToFirstByte = new Float64Array(options.requests);
  let errors = 0;
  try {
    for (let index = 0; index < options.warmupRequests; index++) await connection.send(options.source());
    for (let index = 0; index < options.requests; index++) {
      const timing = await connection.send(options.source());
      if (timing.status !== 200) errors++;
      latencies[index] = timing.endAt - timing.sentAt;
      timesToFirstByte[index] = timing.firstBodyAt - timing.sentAt;
    }
  } finally {
    connection.close();
  }
  return { latencies, timesToFirstByte, errors };
}

export interface CountedRunResult {
  completed: number;
  /** Answers other than 200, and connections that failed. */
  errors: number;
  /** Connections that failed (each stops sending); counted in `errors` too. */
  failedConnections: number;
  seconds: number;
}

/**
 * Sends exactly `count` requests over `connections` keep-alive connections, closed loop, and calls
 * `onProgress` each time another `progressEvery` have been answered: warm-up, and long runs whose memory
 * is sampled along the way.
 */
export async function sendRequests(options: {
  url: URL;
  source: RequestSource;
  connections: number;
  count: number;
  maxDurationMs?: number;
  progressEvery?: number;
  onProgress?: (answered: number) => void;
}): Promise<CountedRunResult> {
  const connections = await Promise.all(Array.from({ length: options.connections }, () => KeepAliveConnection.open(options.url)));
  const startedAt = performance.now();
  const end = startedAt + (options.maxDurationMs ?? Number.POSITIVE_INFINITY);
  let remaining = options.count;
  let completed = 0;
  let errors = 0;
  let failedConnections = 0;
  try {
    await Promise.all(
      connections.map(async (connection) => {
        while (remaining > 0 && performance.now() < end) {
          remaining--;
          try {
            const timing = await connection.send(options.source());
            if (timing.status !== 200) errors++;
          } catch {
            errors++;
            failedConnections++;
            return;
          }
          completed++;
          if (options.progressEvery && completed % options.progressEvery === 0) options.onProgress?.(completed);
        }
      }),
    );
  } finally {
    for (const connection of connections) connection.close();
  }
  return { completed, errors, failedConnections, seconds: (performance.now() - startedAt) / 1000 };
}
