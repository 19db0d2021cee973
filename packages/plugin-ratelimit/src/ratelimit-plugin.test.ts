import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createGateway, definePlugin, type Gateway, type ProviderV1, silentLogger } from '@switchyard/core';
import { createEchoProvider } from '@switchyard/providers';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { createRateLimitPlugin, formatResetDuration, type RateLimitOptions } from './ratelimit-plugin.js';

let cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** Plays the billing plugin's part: puts a key record on the request state. */
const fakeKeys = definePlugin({
  name: 'fake-keys',
  onRequest(context) {
    const header = context.headers['x-test-key'];
    if (typeof header === 'string') (context.state as Record<string, unknown>).virtualKey = JSON.parse(header);
  },
});

async function start(options: RateLimitOptions, providers: ProviderV1[] = [createEchoProvider()]) {
  const plugin = createRateLimitPlugin(options);
  const gateway: Gateway = createGateway({ providers, plugins: [fakeKeys, plugin], logger: silentLogger });
  const { url } = await gateway.listen(0);
  cleanup.push(() => gateway.close());
  return { client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }), plugin, url };
}

const ask = { model: 'demo/echo', messages: [{ role: 'user' as const, content: 'hello' }] };
const keyHeader = (record: Record<string, unknown>) => ({ headers: { 'x-test-key': JSON.stringify(record) } });

describe('rate-limit plugin (memory store)', () => {
  it('enforces requests per minute per key, with OpenAI headers and a retry-after on the 429', async () => {
    const { client } = await start({});
    const options = keyHeader({ id: 'k1', rpm: 3 });
    for (let index = 0; index < 3; index++) {
      const { response } = await client.chat.completions.create(ask, options).withResponse();
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe(String(2 - index));
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?(ms|s)$|^\d+m\d+s$/);
    }
    const error = await client.chat.completions.create(ask, options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimitError = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimitError.code).toBe('rate_limit_exceeded');
    expect(Number(rateLimitError.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(rateLimitError.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    // Another key has its own budget.
    await client.chat.completions.create(ask, keyHeader({ id: 'k2', rpm: 3 }));
  });

  it('limits unauthenticated traffic per client IP', async () => {
    const { client } = await start({ anonymous: { rpm: 2 } });
    await client.chat.completions.create(ask);
    await client.chat.completions.create(ask);
    await expect(client.chat.completions.create(ask)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('admits tokens on an estimate and reconciles them with the real usage', async () => {
    const { client, plugin } = await start({});
    const options = keyHeader({ id: 'tokens', tpm: 1_000 });
    // Estimate: ~6 prompt tokens + 600 requested output; the echo answer uses ~10 in all.
    const { response } = await client.chat.completions.create({ ...ask, max_tokens: 600 }, options).withResponse();
    expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(400);
    // Reconciled: almost the whole estimate came back, so a second large request fits.
    await client.chat.completions.create({ ...ask, max_tokens: 600 }, options);
    const third = await client.chat.completions.create({ ...ask, max_tokens: 600 }, options).withResponse();
    expect(third.response.status).toBe(200);
    expect(plugin.store).toBeDefined();
  });

  it('refuses a single request larger than the token limit without a retry-after', async () => {
    const { client } = await start({});
    const error = (await client.chat.completions.create({ ...ask, max_tokens: 5_000 }, keyHeader({ id: 'small', tpm: 1_000 })).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.message).toMatch(/too large/);
    expect(error.headers?.get('retry-after')).toBeNull();
  });

  it('applies per key × model limits', async () => {
    const { client } = await start({ models: { 'demo/echo': { rpm: 1 } } });
    const options = keyHeader({ id: 'per-model' });
    await client.chat.completions.create(ask, options);
    await expect(client.chat.completions.create(ask, options)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('releases concurrency slots on success, on error and when a streaming client disconnects', async () => {
    const { client } = await start({}, [createEchoProvider({ chunkDelayMs: 30 })]);
    const options = keyHeader({ id: 'concurrent', max_concurrency: 1 });
    await client.chat.completions.create(ask, options);
    await client.chat.completions.create(ask, options);
    // An error (unknown model) releases its slot too.
    await expect(client.chat.completions.create({ ...ask, model: 'nowhere/model' }, options)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await client.chat.completions.create(ask, options);
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ ...ask, messages: [{ role: 'user', content: 'one two three four five six seven' }], stream: true }, { ...options, signal: controller.signal });
    // While the stream holds the only slot, a second request is refused.
    await expect(client.chat.completions.create(ask, options)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    for await (const _chunk of stream) {
      controller.abort();
      break;
    }
    await expect
      .poll(async () => (await client.chat.completions.create(ask, options).then(() => 'ok', (error: unknown) => String(error))), { timeout: 2_000, interval: 50 })
      .toBe('ok');
  });

  it('formats reset durations the way OpenAI does', () => {
    expect(formatResetDuration(20)).toBe('20ms');
    expect(formatResetDuration(1_500)).toBe('1.5s');
    expect(formatResetDuration(360_000)).toBe('6m0s');
  });
});

const redisUrl = process.env.REDIS_URL;
const fixture = fileURLToPath(new URL('./__fixtures__/gateway-process.ts', import.meta.url));

async function startProcess(environment: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--conditions=@switchyard/source', '--import', 'tsx', fixture], {
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(() => {
    child.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`gateway process did not start: ${output}`)), 20_000);
    child.stdout!.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /READY (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway process exited with ${code}: ${output}`)));
  });
  return { url, child };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await expect
    .poll(async () => {
      const { Redis } = await import('ioredis');
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return await probe.ping();
      } catch {
        return 'down';
      } finally {
        probe.disconnect();
      }
    }, { timeout: 10_000, interval: 100 })
    .toBe('PONG');
  return child;
}

describe.runIf(redisUrl)('rate-limit plugin on Redis', () => {
  it('two gateway processes sharing Redis enforce one combined limit exactly', async () => {
    const environment = { REDIS_URL: redisUrl!, RATE_LIMIT_PREFIX: `switchyard-test:${randomUUID()}:`, RPM: '30' };
    const [first, second] = await Promise.all([startProcess(environment), startProcess(environment)]);
    const clients = [first, second].map(({ url }) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }));
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        clients[index % 2]!.chat.completions.create(ask).then(
          () => 'ok',
          (error: unknown) => (error instanceof OpenAI.RateLimitError ? 'limited' : String(error)),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(30);
    expect(outcomes.filter((outcome) => outcome === 'limited')).toHaveLength(30);
  });

  it.each(['open', 'closed'] as const)('follows the %s policy while Redis is down and recovers when it returns', async (policy) => {
    const port = await freePort();
    let redis = await startRedis(port);
    cleanup.push(() => {
      redis.kill('SIGKILL');
    });
    const { url } = await startProcess({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_PREFIX: `t:${randomUUID()}:`, RPM: '1000', FAILURE_POLICY: policy });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 5_000 });
    const before = await client.chat.completions.create(ask).withResponse();
    expect(before.response.headers.get('x-ratelimit-limit-requests')).toBe('1000');

    redis.kill('SIGKILL');
    await new Promise((resolve) => redis.once('exit', resolve));
    const started = Date.now();
    const during = await client.chat.completions.create(ask).then(
      () => 'ok',
      (error: unknown) => (error instanceof OpenAI.APIError ? error.status : String(error)),
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(during).toBe(policy === 'open' ? 'ok' : 503);

    redis = await startRedis(port);
    await expect
      .poll(async () => (await client.chat.completions.create(ask).withResponse()).response.headers.get('x-ratelimit-limit-requests'), { timeout: 10_000, interval: 200 })
      .toBe('1000');
  });
});
