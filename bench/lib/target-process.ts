/*
 * The child side of a benchmarked process. A target module calls `serveTarget` with a function that starts
 * its server; this file speaks the small IPC protocol `spawnTarget` (processes.ts) expects:
 *
 *   child → parent  { type: 'listening', url }          once the server accepts connections
 *   parent → child  { type: 'cpu-usage' }               answered with { type: 'cpu-usage', usage }
 *   parent → child  { type: 'stop' }                    close the server and exit 0
 *
 * When the parent asks for a CPU profile, profiling starts once the server listens (start-up and module
 * loading stay out of it) and the profile is written when the parent says stop.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

export interface RunningTarget {
  url: string;
  close(): Promise<void>;
}

export type ParentMessage = { type: 'cpu-usage' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'listening'; url: string }
  | { type: 'cpu-usage'; usage: NodeJS.CpuUsage }
  | { type: 'failed'; message: string };

/** Options the parent passes to a target, as JSON in this environment variable. */
export const targetOptionsVariable = 'BENCH_TARGET_OPTIONS';
/** Where to write a CPU profile of the target's steady state, when set. */
export const cpuProfileVariable = 'BENCH_CPU_PROFILE';

export function readTargetOptions<Options>(): Options {
  const text = process.env[targetOptionsVariable];
  if (!text) throw new Error(`${targetOptionsVariable} is not set: start targets with spawnTarget().`);
  return JSON.parse(text) as Options;
}

export async function serveTarget(start: () => Promise<RunningTarget>): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  let running: RunningTarget;
  try {
    running = await start();
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
  const profileFile = process.env[cpuProfileVariable];
  const profiler = profileFile ? await startProfiler() : undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    if (profiler && profileFile) {
      const { profile } = await profiler.post('Profiler.stop');
      await writeFile(profileFile, JSON.stringify(profile));
    }
    // A target that hangs while closing must not hang the benchmark.
    const deadline = setTimeout(() => process.exit(0), 3_000);
    deadline.unref();
    await running.close().catch(() => {});
    process.exit(0);
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu-usage') send({ type: 'cpu-usage', usage: process.cpuUsage() });
    else if (message.type === 'stop') void stop();
  });
  // The parent died without saying stop: do not linger as an orphan holding a port and a core.
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  send({ type: 'listening', url: running.url });
}

async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 200 µs: a request costs a few hundred microseconds, so the default 1 ms would see too little.
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return session;
}
