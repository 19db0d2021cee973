/*
 * In-process measurements (a store's round trip, an index lookup) run in a child Node process of their
 * own, like the servers do: workspace packages resolve as they do for the servers (built, or sources
 * with `pnpm bench --source`: lib/packages-under-test.ts), and the child can be pinned to the target core.
 *
 * The measuring module calls `serveMeasurement(measure)` when it is the child's main module
 * (`isMeasurementChild(import.meta.url)`); the parent calls `runMeasurementChild(module, options)` and
 * receives the JSON result over IPC.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childNodeFlags } from './packages-under-test.js';
import { canPinToCores } from './processes.js';

const optionsVariable = 'BENCH_MEASUREMENT_OPTIONS';

type ChildReply<Result> = { type: 'result'; result: Result } | { type: 'failed'; message: string };

/** True in the child started by `runMeasurementChild` for this module. */
export function isMeasurementChild(moduleUrl: string): boolean {
  return process.env[optionsVariable] !== undefined && process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}

export async function serveMeasurement<Options, Result>(measure: (options: Options) => Promise<Result>): Promise<void> {
  let reply: ChildReply<Result>;
  try {
    reply = { type: 'result', result: await measure(JSON.parse(process.env[optionsVariable]!) as Options) };
  } catch (error) {
    reply = { type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  // Exit only once the reply has left: open handles (a Redis client, timers) must not keep the child alive.
  process.send!(reply, () => process.exit(reply.type === 'result' ? 0 : 1));
}

/** Runs `module` as a measurement child (pinned to `core` when possible) and returns what it measured. */
export async function runMeasurementChild<Result>(module: URL, options: unknown, core?: number): Promise<Result> {
  const nodeArguments = [...childNodeFlags(), fileURLToPath(module)];
  const pinned = core !== undefined && canPinToCores();
  const child = spawn(pinned ? 'taskset' : process.execPath, pinned ? ['-c', String(core), process.execPath, ...nodeArguments] : nodeArguments, {
    env: { ...process.env, [optionsVariable]: JSON.stringify(options ?? {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Result>((resolve, reject) => {
    let reply: ChildReply<Result> | undefined;
    child.on('message', (message: ChildReply<Result>) => (reply = message));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (reply?.type === 'result') resolve(reply.result);
      else if (reply?.type === 'failed') reject(new Error(`Measurement in ${fileURLToPath(module)} failed: ${reply.message}`));
      else reject(new Error(`Measurement in ${fileURLToPath(module)} exited without a result (code ${code}, signal ${signal}).`));
    });
  });
}
