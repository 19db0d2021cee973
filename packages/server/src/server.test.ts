import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@switchyard/core';
import type { MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleShutdown, type StartedServer, startServer } from './server.js';
import { startMockOpenAI } from './test-support/mock-openai.js';

interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  fields: object;
  message: string | undefined;
}

/** A logger that keeps what it is given, for assertions on startup and shutdown lines. */
function recordingLogger(entries: LogEntry[] = []): Logger & { entries: LogEntry[] } {
  const write = (level: LogEntry['level']) => (object: object | string, message?: string) => {
    if (typeof object === 'string') entries.push({ level, fields: {}, message: object });
    else entries.push({ level, fields: object, message });
  };
  const logger = { entries, error: write('error'), warn: write('warn'), info: write('info'), debug: write('debug'), child: () => logger };
  return logger;
}

const directory = mkdtempSync(join(tmpdir(), 'switchyard-server-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('startServer with a YAML config file', () => {
  let upstream: MockUpstream;
  let server: StartedServer;
  let client: OpenAI;
  const logger = recordingLogger();

  beforeAll(async () => {
    upstream = await startMockOpenAI();
    const configPath = join(directory, 'gateway.yaml');
    writeFileSync(
      configPath,
      `# Keys come from the environment, never from the file.
providers:
  - type: openai
    apiKey: \${UPSTREAM_KEY}
    baseURL: \${UPSTREAM_URL}/v1
aliases:
  fast: openai/gpt-4o-mini
fallback:
  groups:
    smart:
      strategy: ordered
      targets:
        - model: openai/gpt-4o-fail
        - model: openai/gpt-4o
cache:
  store: off
`,
    );
    server = await startServer({ SWITCHYARD_CONFIG: configPath, UPSTREAM_KEY: 'sk-upstream', UPSTREAM_URL: upstream.url, PORT: '0' }, logger);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  it('logs one ready line with the URL and the providers', () => {
    const ready = logger.entries.filter((entry) => entry.message?.startsWith('Switchyard gateway ready'));
    expect(ready).toHaveLength(1);
    expect(ready[0]!.message).toBe(`Switchyard gateway ready at ${server.url}/v1 (providers: openai)`);
    expect(ready[0]!.fields).toMatchObject({ url: server.url, providers: ['openai'], plugins: ['fallback', 'observability'] });
    expect(server.demo).toBe(false);
    expect(server.billing).toBeUndefined();
  });

  it('answers through the configured provider with the interpolated key, by alias and as a stream', async () => {
    const completion = await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]!.message.content).toBe('Reply from gpt-4o-mini: hello');
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-upstream');

    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'streamed' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Reply from gpt-4o-mini: streamed');
  });

  it('routes a group from the file with fallback', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'smart', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('Reply from gpt-4o: hi');
    // A 503 is retried once on the same target (retry.attemptsPerTarget defaults to 2), then the next one answers.
    expect(response.headers.get('x-switchyard-attempts')).toBe('3');
  });
});

describe('startServer without any provider', () => {
  it('serves the demo/echo model and says so clearly in the startup log', async () => {
    const logger = recordingLogger();
    const server = await startServer({ PORT: '0' }, logger);
    try {
      expect(server.demo).toBe(true);
      const warnings = logger.entries.filter((entry) => entry.level === 'warn').map((entry) => entry.message);
      expect(warnings).toContainEqual(expect.stringMatching(/^no provider configured .*serving only the built-in demo\/echo model/));
      expect(warnings).toContainEqual(expect.stringMatching(/^dev mode: no master key/));
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'anyone?' }] });
      expect(completion.choices[0]!.message.content).toBe('Echo: anyone?');
    } finally {
      await server.close();
    }
  });

  it('logs no warnings when asked not to announce (cluster workers)', async () => {
    const logger = recordingLogger();
    const server = await startServer({ PORT: '0' }, logger, { announce: false });
    await server.close();
    expect(logger.entries.filter((entry) => entry.level === 'warn')).toEqual([]);
  });
});

describe('startServer with billing', () => {
  it('requires a virtual key once a master key is set, and exposes the billing plugin', async () => {
    const logger = recordingLogger();
    const server = await startServer({ PORT: '0', SWITCHYARD_MASTER_KEY: 'sk-master-0123456789', SWITCHYARD_DATA_DIR: 'memory://', SWITCHYARD_CACHE: 'off' }, logger);
    try {
      expect(server.billing?.mode).toBe('enforcing');
      expect(server.plugins.rateLimit).toBeDefined();
      const refused = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo/echo', messages: [{ role: 'user', content: 'hi' }] }) });
      expect(refused.status).toBe(401);
      const created = await fetch(`${server.url}/admin/keys`, { method: 'POST', headers: { authorization: 'Bearer sk-master-0123456789', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'test' }) });
      const { key } = (await created.json()) as { key: string };
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
      const completion = await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'with a key' }] });
      expect(completion.choices[0]!.message.content).toBe('Echo: with a key');
      expect(logger.entries.filter((entry) => entry.level === 'warn').map((entry) => entry.message)).not.toContainEqual(expect.stringMatching(/^dev mode/));
    } finally {
      await server.close();
    }
  });
});

describe('startServer failures', () => {
  it('rejects with the configuration error naming the bad variable', async () => {
    await expect(startServer({ PORT: 'eighty' }, recordingLogger())).rejects.toThrow("PORT: must be an integer from 0 to 65535, got 'eighty'");
  });

  it('rejects when the port is taken, and leaves nothing open', async () => {
    const first = await startServer({ PORT: '0' }, recordingLogger());
    try {
      const port = new URL(first.url).port;
      await expect(startServer({ PORT: port }, recordingLogger())).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

describe('handleShutdown', () => {
  it('drains an in-flight stream, closes the server and exits 0; a second signal exits 1 at once', async () => {
    const upstream = await startMockOpenAI({ slowChunkDelayMs: 20, slowChunks: 25 });
    const logger = recordingLogger();
    const server = await startServer({ PORT: '0', OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `${upstream.url}/v1`, SWITCHYARD_CACHE: 'off' }, logger);
    const exits: number[] = [];
    let exited!: () => void;
    const exitCalled = new Promise<void>((resolve) => (exited = resolve));
    const handle = handleShutdown(server, {
      signals: ['SIGUSR2'],
      exit: (code) => {
        exits.push(code);
        exited();
      },
    });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini-slow', messages: [{ role: 'user', content: 'count' }], stream: true });
      let text = '';
      let signalled = false;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (!signalled && text !== '') {
          signalled = true;
          process.emit('SIGUSR2', 'SIGUSR2');
          // Once shutdown started, the server takes no new connections.
          await expect(fetch(`${server.url}/health`)).rejects.toThrow();
        }
      }
      expect(text).toBe(Array.from({ length: 25 }, (_, index) => `${index} `).join(''));
      await exitCalled;
      expect(exits).toEqual([0]);
      expect(logger.entries.map((entry) => entry.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^shutting down \(SIGUSR2\)/), 'shutdown complete']));
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exits).toEqual([0, 1]);
    } finally {
      handle.dispose();
      await server.close();
      await upstream.close();
    }
  });
});
