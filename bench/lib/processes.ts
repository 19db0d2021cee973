import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage } from './target-process.js';
import { childNodeFlags } from './packages-under-test.js';
import { cpuProfileVariable, targetOptionsVariable } from './target-process.js';


let tasksetChecked: boolean | undefined;

/** Whether `taskset` exists and the machine has more than one core to choose from. */
export function canPinToCores(): boolean {
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetChecked = availableParallelism() > 1;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/**
 * Pins every thread of this process (the load generator) to one core, so it never competes with the
 * system under test for the other. Returns false when pinning is not possible.
 */
export function pinCurrentProcess(core: number): boolean {
  if (!canPinToCores()) return false;
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
  return true;
}

export interface SpawnTargetOptions {
  /** Shown in errors and logs. */
  name: string;
  /** Target module, e.g. `new URL('../targets/gateway.ts', import.meta.url)`. */
  module: URL;
  /** JSON-serialisable options the target reads with `readTargetOptions()`. */
  options?: unknown;
  /** Core to pin the process to (with `taskset`), when the machine allows. */
  core?: number;
  /** Extra Node flags. */
  nodeFlags?: readonly string[];
  /** Write a `.cpuprofile` of the process's steady state (after it listens, until stop) to this path. */
  cpuProfileFile?: string;
}

export interface TargetProcess {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** The core it runs on, or undefined when not pinned. */
  readonly core: number | undefined;
  /** CPU time the process has used so far (user + system, microseconds). */
  cpuMicroseconds(): Promise<number>;
  /** Asks the process to exit cleanly (writing any CPU profile); kills it if it has not after 5 s. */
  stop(): Promise<void>;
}

/** Starts a target module in its own Node process and waits until its server listens. */
export async function spawnTarget(options: SpawnTargetOptions): Promise<TargetProcess> {
  const script = fileURLToPath(options.module);
  const nodeArguments = [...childNodeFlags(), ...(options.nodeFlags ?? []), script];
  const core = options.core !== undefined && canPinToCores() ? options.core : undefined;
  const [command, commandArguments] =
    core !== undefined ? ['taskset', ['-c', String(core), process.execPath, ...nodeArguments]] : [process.execPath, nodeArguments];
  const child = spawn(command, commandArguments, {
    env: {
      ...process.env,
      [targetOptionsVariable]: JSON.stringify(options.options ?? {}),
      ...(options.cpuProfileFile ? { [cpuProfileVariable]: options.cpuProfileFile } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'listening') {
        cleanup();
        resolve(message.url);
      } else if (message.type === 'failed') {
        cleanup();
        reject(new Error(`${options.name} failed to start: ${message.message}`));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`${options.name} exited before listening (code ${code}, signal ${signal}).`));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  return {
    name: options.name,
    url,
    pid: child.pid!,
    core,
    cpuMicroseconds: () => askCpuUsage(child),
    stop: () => stopChild(child),
  };
}

function askCpuUsage(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type !== 'cpu-usage') return;
      child.off('message', onMessage);
      resolve(message.usage.user + message.usage.system);
    };
    child.on('message', onMessage);
    if (!child.send({ type: 'cpu-usage' } satisfies ParentMessage)) {
      child.off('message', onMessage);
      reject(new Error('The target process is gone.'));
    }
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
