import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package directory: the CLI runs from its TypeScript source there, as the workspace's tests do. */
export const packageDirectory = fileURLToPath(new URL('../..', import.meta.url));
const cliArguments = ['--conditions=@switchyard/source', '--import', 'tsx', 'src/cli.ts'];

/** An environment with nothing from the test runner's: no provider key or Redis URL leaks into a test. */
export function cleanEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `switchyard <args>` to completion. */
export function runCli(args: readonly string[], env: Record<string, string> = cleanEnvironment(), timeoutMs = 20_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cliArguments, ...args], { cwd: packageDirectory, env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** One pino log line, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; pid?: number; level?: number };

export interface ServeProcess {
  child: ChildProcess;
  /** Log lines written so far (stdout), parsed; non-JSON lines are kept as `{ msg }`. */
  logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line that matches, or rejects after `timeoutMs` or when the process exits. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGKILLs the process if it still runs (test cleanup). */
  kill(): void;
}

/** Starts `switchyard serve <args>` as its own process. */
export function startServe(args: readonly string[], env: Record<string, string>): ServeProcess {
  const child = spawn(process.execPath, [...cliArguments, 'serve', ...args], { cwd: packageDirectory, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (data: Buffer) => {
    pending += data.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (data: Buffer) => {
    stderr += data.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });
  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 20_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = logs.find(predicate);
        if (found) {
          finish();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          reject(new Error(`switchyard exited (${child.exitCode ?? child.signalCode}) before the expected log line.\n--- stdout\n${logs.map((line) => JSON.stringify(line)).join('\n')}\n--- stderr\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`Timed out waiting for a log line.\n--- stdout\n${logs.map((line) => JSON.stringify(line)).join('\n')}\n--- stderr\n${stderr}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog,
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The URL from the gateway's ready line. */
export async function waitForReady(process: ServeProcess): Promise<string> {
  const line = await process.waitForLog((entry) => typeof entry.msg === 'string' && entry.msg.startsWith('Switchyard gateway ready at'));
  return line.url as string;
}

/** Resolves once the process with this pid no longer exists. */
export async function waitForProcessGone(pid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} is still running`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
