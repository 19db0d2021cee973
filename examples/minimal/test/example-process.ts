import { type ChildProcess, spawn } from 'node:child_process';

export interface ExampleProcess {
  /** The URL the example printed once it was listening. */
  url: string;
  /** Everything the process wrote so far, stdout and stderr, for failure messages. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code once the process has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts an example as its own process, the way a user runs it, and resolves once it prints
 * `listening on <url>`. Rejects with the process's output when it exits or stays silent instead.
 */
export async function startExample(options: {
  args: string[];
  cwd: string;
  env: Record<string, string>;
  startTimeoutMs?: number;
}): Promise<ExampleProcess> {
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The example did not start within ${options.startTimeoutMs ?? 20_000} ms. Output:\n${output}`));
    }, options.startTimeoutMs ?? 20_000);
    const onData = (data: Buffer) => {
      output += data.toString('utf8');
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The example exited with code ${code} before listening. Output:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    stop: () => stopProcess(child, exited),
  };
}

async function stopProcess(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  // A gateway that does not drain and exit promptly is a failure, but the test must not hang on it.
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
