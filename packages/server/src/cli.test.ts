import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnvironment, type LogLine, packageDirectory, runCli, type ServeProcess, startServe, waitForProcessGone, waitForReady } from './test-support/cli-process.js';
import { startMockOpenAI } from './test-support/mock-openai.js';

/*
 * The `switchyard` command as users run it: its own process, started from the TypeScript source with the
 * workspace's source condition, talking to a mock OpenAI upstream on 127.0.0.1.
 */

const directory = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
let upstream: MockUpstream;
const running: ServeProcess[] = [];

beforeAll(async () => {
  upstream = await startMockOpenAI({ slowChunkDelayMs: 50, slowChunks: 30 });
});

afterEach(() => {
  for (const process of running.splice(0)) process.kill();
});

afterAll(async () => {
  await upstream?.close();
  rmSync(directory, { recursive: true, force: true });
});

function writeConfig(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

function serve(args: readonly string[], env: Record<string, string>): ServeProcess {
  const process = startServe(args, env);
  running.push(process);
  return process;
}

/** The upstream as a provider, its key interpolated from the environment. */
const providerYaml = () => `providers:
  - type: openai
    apiKey: \${UPSTREAM_KEY}
    baseURL: ${upstream.url}/v1
`;

describe('switchyard --help, --version and usage errors', () => {
  it('prints the usage', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('switchyard serve [--config <file>] [--port <n>] [--host <address>] [--workers <n|auto>]');
    expect(result.stdout).toContain('switchyard check-config [<file>]');
  });

  it('prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(packageDirectory, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('exits 2 for an unknown command or option, and without a command', async () => {
    const [unknown, badOption, badPort, none] = await Promise.all([runCli(['start']), runCli(['serve', '--prot', '1']), runCli(['serve', '--port', 'http']), runCli([])]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("switchyard: unknown command 'start'");
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--prot'");
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain("--port must be an integer from 0 to 65535, got 'http'");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage:');
  });
});

describe('switchyard check-config', () => {
  it('prints ok and a summary of a valid file together with the environment', async () => {
    const path = writeConfig(
      'valid.yaml',
      `${providerYaml()}aliases:
  fast: openai/gpt-4o-mini
fallback:
  groups:
    smart:
      strategy: ordered
      targets:
        - model: openai/gpt-4o
        - model: anthropic/claude-sonnet-4-5
rateLimit:
  anonymous:
    rpm: 60
`,
    );
    const result = await runCli(['check-config', path], cleanEnvironment({ UPSTREAM_KEY: 'sk-secret-upstream', ANTHROPIC_API_KEY: 'sk-ant-secret', SWITCHYARD_WORKERS: '2' }));
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`ok: ${path}`);
    expect(lines).toContain('server: http://127.0.0.1:8787/v1, 2 workers, drains for up to 10000 ms on shutdown');
    expect(lines).toContain(`  openai: openai at ${upstream.url}/v1`);
    expect(lines).toContain('  anthropic: anthropic (from environment variables)');
    expect(lines).toContain('aliases: fast → openai/gpt-4o-mini');
    expect(lines).toContain('  smart (ordered): openai/gpt-4o → anthropic/claude-sonnet-4-5');
    expect(lines).toContain('plugins: ratelimit (memory), cache (memory, 3600 s), fallback, observability (metrics on /metrics)');
    // Two workers with memory stores: said before anyone is surprised by per-worker limits.
    expect(result.stdout).toMatch(/warning: cluster mode \(2 workers\): rate limits are counted in memory/);
    expect(result.stdout).toMatch(/warning: cluster mode \(2 workers\): the response cache is in memory/);
    // Keys are never printed.
    expect(result.stdout).not.toContain('secret');
  });

  it('prints every error with the path of the bad field and exits 1', async () => {
    const path = writeConfig(
      'invalid.yaml',
      `providers:
  - type: openai
    apiKey: \${MISSING_KEY}
  - type: anthropic
server:
  port: 99999
cache:
  store: memroy
`,
    );
    const result = await runCli(['check-config', path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`${path}: 1 problem\n  providers[0].apiKey: the environment variable MISSING_KEY is not set (write \${MISSING_KEY:-default} to give a default)\n`);

    const withKey = await runCli(['check-config', path], cleanEnvironment({ MISSING_KEY: 'k' }));
    expect(withKey.code).toBe(1);
    expect(withKey.stderr.split('\n')).toEqual([
      `${path}: 3 problems`,
      '  server.port: must be at most 65535',
      '  providers[1].apiKey: is required',
      "  cache.store: 'memroy' is not one of off, memory, redis",
      '',
    ]);
  });

  it('reports models no provider serves, and billing that cannot run in a cluster', async () => {
    const path = writeConfig('references.yaml', `${providerYaml()}aliases:\n  claude: anthropic/claude-sonnet-4-5\nbilling:\n  masterKey: sk-master\ncluster:\n  workers: 2\n`);
    const result = await runCli(['check-config', path], cleanEnvironment({ UPSTREAM_KEY: 'k' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("  aliases.claude: no configured provider serves 'anthropic/claude-sonnet-4-5'\n");
    expect(result.stderr).toContain('  cluster.workers: cluster mode (2 workers) needs billing on PostgreSQL');
  });

  it('checks the configuration of SWITCHYARD_CONFIG when no file is named', async () => {
    const path = writeConfig('from-variable.yaml', 'providers:\n  - type: echo\n');
    const result = await runCli(['check-config'], cleanEnvironment({ SWITCHYARD_CONFIG: path }));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`ok: ${path}\n`);
    expect(result.stdout).toContain('  demo: echo\n');
  });
});

describe('switchyard serve', () => {
  it('serves a YAML config to the openai SDK, then exits 0 on SIGTERM', async () => {
    const path = writeConfig('serve.yaml', `${providerYaml()}aliases:\n  fast: openai/gpt-4o-mini\nserver:\n  port: 8787\n`);
    // --port wins over the file's port.
    const gateway = serve(['--config', path, '--port', '0'], cleanEnvironment({ UPSTREAM_KEY: 'sk-upstream', LOG_LEVEL: 'info' }));
    const url = await waitForReady(gateway);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:8787$/);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'from the CLI' }] });
    expect(completion.choices[0]!.message.content).toBe('Reply from gpt-4o-mini: from the CLI');
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-upstream');
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'streamed' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Reply from gpt-4o-mini: streamed');

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(gateway.logs.map((line) => line.msg)).toContain('shutdown complete');
  });

  it('exits 1 naming the bad field when the configuration is invalid', async () => {
    const path = writeConfig('serve-invalid.yaml', 'providers:\n  - type: openai\n    apiKey: k\n    baseURL: not-a-url\n');
    const gateway = serve(['--config', path], cleanEnvironment());
    expect(await gateway.exited).toBe(1);
    expect(gateway.stderr()).toBe(`${path}: 1 problem\n  providers[0].baseURL: must be an http:// or https:// URL\n`);
  });

  it('on SIGTERM finishes an in-flight stream before exiting 0', async () => {
    const gateway = serve(['--port', '0'], cleanEnvironment({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${upstream.url}/v1`, SWITCHYARD_CACHE: 'off' }));
    const url = await waitForReady(gateway);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    // 30 chunks 50 ms apart: the stream is still running when the signal arrives.
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini-slow', messages: [{ role: 'user', content: 'count' }], stream: true });
    let text = '';
    let signalled = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (!signalled && text !== '') {
        signalled = true;
        gateway.child.kill('SIGTERM');
        await gateway.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('shutting down (SIGTERM)'));
      }
    }
    expect(text).toBe(Array.from({ length: 30 }, (_, index) => `${index} `).join(''));
    expect(await gateway.exited).toBe(0);
  });

  it('cuts streams still running at the drain deadline, then exits 0', async () => {
    const gateway = serve(['--port', '0'], cleanEnvironment({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${upstream.url}/v1`, SWITCHYARD_CACHE: 'off', SWITCHYARD_DRAIN_TIMEOUT_MS: '200' }));
    const url = await waitForReady(gateway);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini-slow', messages: [{ role: 'user', content: 'count' }], stream: true });
    let text = '';
    let signalled = false;
    const reading = (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (!signalled && text !== '') {
          signalled = true;
          gateway.child.kill('SIGTERM');
        }
      }
    })();
    // The connection is closed under the stream; the SDK reports it or ends the iteration.
    await reading.catch(() => {});
    expect(await gateway.exited).toBe(0);
    expect(text.trim().split(' ').length).toBeLessThan(30);
  });
});

/** POST on a new connection each time, so the cluster's round robin spreads requests over its workers. */
function postOnNewConnection(url: string, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const outgoing = request(`${url}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

function getOnNewConnection(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(`${url}${path}`, { agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('switchyard serve --workers', () => {
  it('runs two workers on one port with one /metrics, restarts one that dies, and drains both on SIGTERM', async () => {
    const gateway = serve(['--port', '0', '--workers', '2'], cleanEnvironment({ LOG_LEVEL: 'info' }));
    const ready = await gateway.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Switchyard cluster ready'), 40_000);
    const url = ready.url as string;
    // Each worker logs its own ready line; the primary may learn of the listening socket before the line is written.
    const isWorkerReady = (line: LogLine) => typeof line.msg === 'string' && line.msg.startsWith('Switchyard gateway ready');
    const first = await gateway.waitForLog(isWorkerReady);
    await gateway.waitForLog((line) => isWorkerReady(line) && line.pid !== first.pid);
    const workerReadyLines = gateway.logs.filter(isWorkerReady);
    expect(workerReadyLines).toHaveLength(2);
    expect(new Set(workerReadyLines.map((line) => line.url))).toEqual(new Set([url]));
    const workerPids = workerReadyLines.map((line) => line.pid as number);
    expect(new Set(workerPids).size).toBe(2);
    expect(gateway.logs.map((line) => line.msg)).toContainEqual(expect.stringMatching(/^cluster mode \(2 workers\): the response cache is in memory/));

    // Each request on its own connection; the request log line names the process that answered.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        postOnNewConnection(url, '/v1/chat/completions', { model: 'demo/echo', messages: [{ role: 'user', content: `request ${index}` }] }, { 'x-request-id': `cluster-${index}` }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
    const requestLines = await Promise.all(
      Array.from({ length: 8 }, (_, index) => gateway.waitForLog((line) => line.msg === 'request' && line.requestId === `cluster-${index}`)),
    );
    expect(new Set(requestLines.map((line) => line.pid))).toEqual(new Set(workerPids));

    // Whichever worker a scrape lands on, /metrics counts the whole cluster's requests.
    for (let scrape = 0; scrape < 4; scrape++) {
      const metrics = await getOnNewConnection(url, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/switchyard_requests_total\{operation="chat",model="demo\/echo",provider="demo",status="200",cache="miss"\} 8\n/);
    }

    // A worker killed from outside is replaced; the port keeps answering meanwhile.
    process.kill(workerPids[0]!, 'SIGKILL');
    await gateway.waitForLog((line) => typeof line.msg === 'string' && /^worker \d+ exited unexpectedly \(SIGKILL\): restarting it in \d+ ms$/.test(line.msg));
    const during = await postOnNewConnection(url, '/v1/chat/completions', { model: 'demo/echo', messages: [{ role: 'user', content: 'still served' }] }, {});
    expect(during.status).toBe(200);
    const replacement = await gateway.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('Switchyard gateway ready') && !workerPids.includes(line.pid as number), 30_000);
    expect(replacement.url).toBe(url);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    expect(gateway.logs.filter((line) => line.msg === 'shutdown complete')).toHaveLength(2);
    await waitForProcessGone(workerPids[1]!);
    await waitForProcessGone(replacement.pid as number);
  }, 90_000);

  it('stops with exit 1 when its workers cannot start', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const gateway = serve(['--port', String(port), '--workers', '2'], cleanEnvironment());
      expect(await gateway.exited).toBe(1);
      expect(gateway.logs.map((line) => line.msg)).toContain('a worker exited before it was ready: stopping the cluster');
      expect(gateway.stderr()).toContain(`switchyard: cannot start: bind EADDRINUSE 127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('refuses billing on the embedded store with several workers', async () => {
    const gateway = serve(['--port', '0', '--workers', '2'], cleanEnvironment({ SWITCHYARD_MASTER_KEY: 'sk-master', SWITCHYARD_DATA_DIR: join(directory, 'data') }));
    expect(await gateway.exited).toBe(1);
    expect(gateway.stderr()).toContain('cluster.workers: cluster mode (2 workers) needs billing on PostgreSQL');
  });
});
