import { KeepAliveConnection, type ResponseTiming } from './http-connection.js';
import type { TargetProcess } from './processes.js';
import { measureRotatingSequential, measureRotatingThroughput, sendRequests } from './rotating-load.js';

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

/** Closed-loop load: `connections` clients each send the next request as soon as the last one answered. */
export function measureThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const { request, ...rest } = options;
  return measureRotatingThroughput({ ...rest, source: () => request });
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
export function measureSequential(options: SequentialOptions): Promise<SequentialResult> {
  const { request, ...rest } = options;
  return measureRotatingSequential({ ...rest, source: () => request });
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
  const { request, requests, ...rest } = options;
  const result = await sendRequests({ ...rest, source: () => request, count: requests });
  // Answers are not checked here (the scenario checked them before), but a lost connection is no warm-up.
  if (result.failedConnections > 0) throw new Error(`${result.failedConnections} of ${options.connections} warm-up connections failed.`);
}
