import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeepAliveConnection, type ResponseTiming } from './http-connection.js';
import type { TargetProcess } from './processes.js';

export interface ThroughputOptions {
  url: URL;
  /** Pre-encoded request (see `encodeRequest`). */
  request: Buffer;
  /** Concurrent keep-alive connections, each with one request in flight. */
  connections: number;
  /** Load before the measured window: JIT warm-up, connection pools filled. */
  warmupMs: number;
  durationMs: number;
  /** The system under test: its CPU use over the window is reported. */
  target?: TargetProcess;
  /** Processes sharing the load generator's core (the mock upstream): their CPU counts as the harness's. */
  harness?: readonly TargetProcess[];
}

export interface ThroughputResult {
  requestsPerSecond: number;
  /** Responses completed inside the measured window. */
  completed: number;
  /** Responses with a status other than 200, or failed connections, over the whole run. */
  errors: number;
  /** Per-request latency inside the window, milliseconds. */
  latencies: Float64Array;
  /** CPU the target used over the window, as a share of one core (1 = one core fully busy). */
  targetCpu: number | undefined;
  /**
   * The target's CPU time per completed request, microseconds. Unlike RPS this barely moves when other
   * processes steal the core, so it compares subjects fairly on a busy machine.
   */
  targetCpuPerRequestMicroseconds: number | undefined;
  /** CPU of the load generator plus the `harness` processes, as a share of one core. */
  harnessCpu: number;
}

interface CpuSample {
  at: number;
  target: number | undefined;
  harness: number;
}

/** Closed-loop load: `connections` clients each send the next request as soon as the last one answered. */
export async function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const connections = await Promise.all(Array.from({ length: options.connections }, () => KeepAliveConnection.open(options.url)));
  const startedAt = performance.now();
  const windowStart = startedAt + options.warmupMs;
  const windowEnd = windowStart + options.durationMs;
  const latencies: number[] = [];
  let errors = 0;

  const takeSample = async (): Promise<CpuSample> => {
    const before = performance.now();
    const own = process.cpuUsage();
    const [target, ...harness] = await Promise.all([
      options.target?.cpuMicroseconds(),
      ...(options.harness ?? []).map((child) => child.cpuMicroseconds()),
    ]);
    // Each child read its clock somewhere in the IPC round trip; its middle is the best guess.
    return { at: (before + performance.now()) / 2, target, harness: own.user + own.system + harness.reduce<number>((sum, value) => sum + value!, 0) };
  };
  const firstSample = sleep(options.warmupMs).then(takeSample);
  const lastSample = sleep(options.warmupMs + options.durationMs).then(takeSample);

  const worker = async (connection: KeepAliveConnection) => {
    while (performance.now() < windowEnd) {
      let timing: ResponseTiming;
      try {
        timing = await connection.send(options.request);
      } catch {
        errors++;
        return;
      }
      if (timing.status !== 200) errors++;
      else if (timing.sentAt >= windowStart && timing.endAt <= windowEnd) latencies.push(timing.endAt - timing.sentAt);
    }
  };
  await Promise.all(connections.map(worker));
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

export interface SequentialOptions {
  url: URL;
  request: Buffer;
  /** Requests sent (and discarded) first. */
  warmupRequests: number;
  requests: number;
}

export interface SequentialResult {
  /** Request written → response complete, milliseconds. */
  latencies: Float64Array;
  /** Request written → first body byte, milliseconds. */
  timesToFirstByte: Float64Array;
  errors: number;
}

/** One request at a time on one keep-alive connection: latency without any queueing. */
export async function measureSequential(options: SequentialOptions): Promise<SequentialResult> {
  const connection = await KeepAliveConnection.open(options.url);
  const latencies = new Float64Array(options.requests);
  const timesToFirstByte = new Float64Array(options.requests);
  let errors = 0;
  try {
    for (let index = 0; index < options.warmupRequests; index++) await connection.send(options.request);
    for (let index = 0; index < options.requests; index++) {
      const timing = await connection.send(options.request);
      if (timing.status !== 200) errors++;
      latencies[index] = timing.endAt - timing.sentAt;
      timesToFirstByte[index] = timing.firstBodyAt - timing.sentAt;
    }
  } finally {
    connection.close();
  }
  return { latencies, timesToFirstByte, errors };
}

/** One request with its body kept: for checking that a target answers correctly before measuring it. */
export async function fetchOnce(url: URL, request: Buffer): Promise<ResponseTiming> {
  const connection = await KeepAliveConnection.open(url);
  try {
    return await connection.send(request, { keepBody: true });
  } finally {
    connection.close();
  }
}

/**
 * Unmeasured load until `requests` responses have come back (or `maxDurationMs` has passed). A freshly
 * started process runs interpreted code until V8 has seen enough calls to optimise it, and compiles on
 * background threads whose CPU counts as the process's: without this the first round measures the JIT.
 */
export async function warmUp(options: { url: URL; request: Buffer; connections: number; requests: number; maxDurationMs: number }): Promise<void> {
  const connections = await Promise.all(Array.from({ length: options.connections }, () => KeepAliveConnection.open(options.url)));
  const end = performance.now() + options.maxDurationMs;
  let remaining = options.requests;
  try {
    await Promise.all(
      connections.map(async (connection) => {
        while (remaining-- > 0 && performance.now() < end) await connection.send(options.request);
      }),
    );
  } finally {
    for (const connection of connections) connection.close();
  }
}
