/**
 * Redis and PostgreSQL servers of a test's own, on free loopback ports, that the test may stop and start
 * again (outage tests must never touch the shared instances on 6379 and 5432).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The path of an executable on PATH or in one of `extraDirectories`, or undefined. */
export function findExecutable(name: string, extraDirectories: readonly string[] = []): string | undefined {
  for (const directory of [...(process.env.PATH ?? '').split(delimiter), ...extraDirectories]) {
    if (directory && isExecutable(join(directory, name))) return join(directory, name);
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where Debian and Ubuntu put PostgreSQL's server binaries, newest version first. */
function postgresBinaryDirectories(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => `/usr/lib/postgresql/${version}/bin`);
  } catch {
    return [];
  }
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    const exitReason = exited();
    if (exitReason) throw new Error(exitReason);
    if (Date.now() > deadline) throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A server process that can be stopped (as an outage) and started again on the same port and data. */
abstract class LocalServer {
  readonly port: number;
  #child: ChildProcess | undefined;
  #output = '';

  protected constructor(port: number) {
    this.port = port;
  }

  protected abstract command(): { executable: string; args: string[]; uid?: number; gid?: number };
  /** The signal that shuts the server down promptly and cleanly. */
  protected abstract readonly stopSignal: NodeJS.Signals;

  /** Resolves once the server answers; `exited` tells why it never will. */
  protected async waitUntilReady(exited: () => string | undefined): Promise<void> {
    await waitForPort(this.port, 20_000, exited);
  }

  async start(): Promise<void> {
    if (this.#child) return;
    const { executable, args, uid, gid } = this.command();
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], uid, gid });
    this.#output = '';
    const keep = (data: Buffer) => {
      // The tail is enough to say why a server did not start.
      this.#output = (this.#output + data.toString()).slice(-4_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exitReason: string | undefined;
    child.once('exit', (code, signal) => {
      exitReason = `${executable} exited (code ${code}, signal ${signal}):\n${this.#output}`;
      if (this.#child === child) this.#child = undefined;
    });
    this.#child = child;
    await this.waitUntilReady(() => exitReason);
  }

  /** Stops the server and waits until its process has exited (kills it after 10 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(this.stopSignal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.#child = undefined;
  }
}

export class LocalRedis extends LocalServer {
  readonly url: string;
  readonly #executable: string;
  protected readonly stopSignal = 'SIGTERM';

  private constructor(executable: string, port: number) {
    super(port);
    this.#executable = executable;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** A Redis server binary, or why there is none (for `describe.skipIf`). */
  static available(): string | undefined {
    return findExecutable('redis-server') ? undefined : 'redis-server is not installed';
  }

  static async start(): Promise<LocalRedis> {
    const executable = findExecutable('redis-server');
    if (!executable) throw new Error('redis-server is not installed');
    const redis = new LocalRedis(executable, await freePort());
    await redis.start();
    return redis;
  }

  protected command() {
    // In memory only: nothing to clean up, and a restart comes back empty, as after a crash.
    return { executable: this.#executable, args: ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'] };
  }

  async close(): Promise<void> {
    await this.stop();
  }
}

/**
 * A PostgreSQL cluster made with initdb in a temporary directory, trust authentication, TCP on loopback
 * only. When the tests run as root it runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
export class LocalPostgres extends LocalServer {
  readonly url: string;
  readonly #binaries: string;
  readonly #directory: string;
  readonly #owner: { uid: number; gid: number } | undefined;
  protected readonly stopSignal = 'SIGINT';

  private constructor(binaries: string, directory: string, port: number, owner: { uid: number; gid: number } | undefined) {
    super(port);
    this.#binaries = binaries;
    this.#directory = directory;
    this.#owner = owner;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  static #findBinaries(): string | undefined {
    const initdb = findExecutable('initdb', postgresBinaryDirectories());
    if (!initdb) return undefined;
    // initdb on PATH is often a link into the version's own directory, where its companions are.
    const directory = dirname(realpathSync(initdb));
    return ['postgres', 'pg_isready'].every((name) => isExecutable(join(directory, name))) ? directory : undefined;
  }

  /** The user to run as when this process is root, or undefined when it is not. */
  static #runAs(): { uid: number; gid: number } | undefined {
    if (process.getuid?.() !== 0) return undefined;
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  }

  /** Why a cluster cannot be made here, or undefined when it can (for `describe.skipIf`). */
  static available(): string | undefined {
    if (!LocalPostgres.#findBinaries()) return 'initdb and postgres are not installed (looked on PATH and in /usr/lib/postgresql/*/bin)';
    if (process.getuid?.() === 0 && !LocalPostgres.#runAs()) return 'running as root and there is no postgres user to run PostgreSQL as';
    return undefined;
  }

  static async start(): Promise<LocalPostgres> {
    const binaries = LocalPostgres.#findBinaries();
    if (!binaries) throw new Error('initdb and postgres are not installed');
    const owner = LocalPostgres.#runAs();
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-postgres-'));
    if (owner) chownSync(directory, owner.uid, owner.gid);
    const data = join(directory, 'data');
    execFileSync(join(binaries, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
      stdio: 'pipe',
      timeout: 60_000,
      ...(owner ?? {}),
    });
    const postgres = new LocalPostgres(binaries, directory, await freePort(), owner);
    await postgres.start();
    return postgres;
  }

  /** PostgreSQL accepts connections before it takes queries ("the database system is starting up"). */
  protected override async waitUntilReady(exited: () => string | undefined): Promise<void> {
    await super.waitUntilReady(exited);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        execFileSync(join(this.#binaries, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-q'], { stdio: 'ignore', timeout: 5_000 });
        return;
      } catch {
        const exitReason = exited();
        if (exitReason) throw new Error(exitReason);
        if (Date.now() > deadline) throw new Error(`PostgreSQL on port ${this.port} did not become ready`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  protected command() {
    return {
      executable: join(this.#binaries, 'postgres'),
      args: [
        '-D', join(this.#directory, 'data'),
        '-p', String(this.port),
        '-c', 'listen_addresses=127.0.0.1',
        // TCP only: no socket file in a system directory this user may not own.
        '-c', 'unix_socket_directories=',
        // A throwaway cluster: durability is not what the test is about, speed is.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=32MB',
        '-c', 'max_connections=50',
      ],
      ...(this.#owner ?? {}),
    };
  }

  /** Stops the server for good and removes its files. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.#directory, { recursive: true, force: true });
  }
}
