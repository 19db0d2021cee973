/*
 * The production server as its users start it: the `switchyard serve` command of packages/server (built,
 * or its TypeScript source with `pnpm bench --source`, like every other benchmarked process), with a config
 * file, in one process or as a cluster primary with workers. Unlike `spawnTarget` targets it speaks no IPC protocol:
 * readiness comes from its log, CPU and memory from /proc for the whole process tree.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TargetProcess } from './processes.js';
import { canPinToCores } from './processes.js';
import { childNodeFlags, serverCliEntry } from './packages-under-test.js';
import { processTree, treeCpuMicroseconds } from './process-stats.js';


/** Variables the server reads its configuration from: the benchmark's config file alone must decide. */
const serverVariables = /^(SWITCHYARD_|REDIS_URL$|DATABASE_URL$|HOST$|PORT$|LOG_LEVEL$|AZURE_|OLLAMA_BASE_URL$|[A-Z]+_API_KEY$|[A-Z]+_BASE_URL$)/;

export interface ServerCliOptions {
  name: string;
  /** The configuration (packages/server/src/config-schema.ts), written to a JSON file. */
  config: Record<string, unknown>;
  /** `--workers`: 1 serves in the started process itself; more makes it a cluster primary. */
  workers: number;
  /** Cores the whole tree may run on (`taskset -c`); default every core. */
  cores?: readonly number[];
  /** Longest wait for the ready line. */
  startTimeoutMs?: number;
}

export interface ServerCliProcess extends TargetProcess {
  /** Processes in the tree (primary and workers) right now. */
  processCount(): number;
}

/** Starts `switchyard serve` and resolves once it (every worker, in cluster mode) listens. */
export async function startServerCli(options: ServerCliOptions): Promise<ServerCliProcess> {
  const directory = mkdtempSync(join(tmpdir(), 'switchyard-bench-server-'));
  const configFile = join(directory, 'config.json');
  writeFileSync(configFile, JSON.stringify(options.config, null, 2));
  // The log goes to a file, not a pipe: the load generator shares a core and must not spend it reading logs.
  const logFile = join(directory, 'server.log');
  const logDescriptor = openSync(logFile, 'w');
  const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !serverVariables.test(name)));
  const nodeArguments = [...childNodeFlags(), serverCliEntry(), 'serve', '--config', configFile, '--workers', String(options.workers)];
  // The benchmark process is pinned to one core and children inherit that: the server gets its cores back
  // explicitly (`cpus()` lists the machine's cores whatever this process's affinity; availableParallelism does not).
  const cores = options.cores ?? Array.from({ length: cpus().length }, (_, core) => core);
  const pinned = canPinToCores();
  const child = spawn(pinned ? 'taskset' : process.execPath, pinned ? ['-c', cores.join(','), process.execPath, ...nodeArguments] : nodeArguments, {
    env: environment,
    stdio: ['ignore', logDescriptor, logDescriptor],
  });
  closeSync(logDescriptor);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = () => rmSync(directory, { recursive: true, force: true });

  const readyMessage = options.workers > 1 ? 'Switchyard cluster ready' : 'Switchyard gateway ready';
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let url: string | undefined;
  while (url === undefined) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = readFileSync(logFile, 'utf8');
      cleanup();
      throw new Error(`${options.name} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}):\n${log.slice(-2_000)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      const log = readFileSync(logFile, 'utf8');
      cleanup();
      throw new Error(`${options.name} was not ready after ${options.startTimeoutMs ?? 60_000} ms:\n${log.slice(-2_000)}`);
    }
    await sleep(100);
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes(readyMessage)) continue;
      const entry = JSON.parse(line) as { url?: string };
      if (entry.url) url = entry.url;
    }
  }

  const pid = child.pid!;
  return {
    name: options.name,
    url,
    pid,
    core: undefined,
    cpuMicroseconds: async () => treeCpuMicroseconds(pid),
    processCount: () => processTree(pid).length,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM drains and exits (the primary asks its workers to); anything left after 15 s is killed.
        const tree = processTree(pid);
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          for (const member of tree) {
            try {
              process.kill(member, 'SIGKILL');
            } catch {
              // Already gone.
            }
          }
        }, 15_000);
        await exited;
        clearTimeout(timer);
      }
      cleanup();
    },
  };
}
