import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MockUpstream, type RecordedRequest, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { type StartedServer, startServer } from '../src/server.js';

/** What the mock provider answers: fixed usage so tests can compute the expected cost by hand. */
export interface MockAnswer {
  content: string;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details?: { cached_tokens: number };
    completion_tokens_details?: { reasoning_tokens: number };
  };
}

export const standardAnswer: MockAnswer = {
  content: 'The capital of France is Paris.',
  usage: {
    prompt_tokens: 1000,
    completion_tokens: 200,
    total_tokens: 1200,
    prompt_tokens_details: { cached_tokens: 400 },
    completion_tokens_details: { reasoning_tokens: 50 },
  },
};

export interface MockProviderOptions {
  answer?: MockAnswer;
  /** Leave the usage out of answers and streams, as some providers do. */
  withoutUsage?: boolean;
  /** Pause between stream chunks. */
  chunkDelayMs?: number;
  /** Pause before answering at all. */
  responseDelayMs?: number;
  /** Stream this many content chunks (the answer repeated). Default: one per word. */
  repeat?: number;
}

/**
 * An OpenAI-compatible provider on 127.0.0.1 answering in OpenAI's wire format. The model name picks a
 * behaviour: `…-nousage` reports no usage, `…-cutoff` drops the connection midway through a stream,
 * `…-bad` answers 400, `…-slow` streams 400 chunks 10 ms apart.
 */
export async function startMockProvider(options: MockProviderOptions = {}): Promise<MockUpstream> {
  const answer = options.answer ?? standardAnswer;
  return startMockUpstream(async (request: RecordedRequest, response) => {
    const body = (request.json ?? {}) as { model: string; stream?: boolean; stream_options?: { include_usage?: boolean } };
    if (request.method === 'GET' && request.url.endsWith('/models')) {
      return sendJson(response, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' }] });
    }
    if (options.responseDelayMs) await new Promise((resolve) => setTimeout(resolve, options.responseDelayMs));
    const base = { id: 'chatcmpl-mock', created: 1_700_000_000, model: body.model };
    if (request.url.endsWith('/embeddings')) {
      return sendJson(response, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model: body.model, usage: { prompt_tokens: 8, total_tokens: 8 } });
    }
    const model = String(body.model);
    if (model.endsWith('-bad')) {
      return sendJson(response, 400, { error: { message: "Invalid value for 'temperature'.", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } });
    }
    const withoutUsage = options.withoutUsage || model.endsWith('-nousage');
    const slow = model.endsWith('-slow');
    const chunkDelayMs = slow ? 10 : options.chunkDelayMs;
    const repeat = slow ? 400 : options.repeat;
    if (!body.stream) {
      return sendJson(response, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: answer.content, refusal: null }, finish_reason: 'stop', logprobs: null }],
        ...(withoutUsage ? {} : { usage: answer.usage }),
      });
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const write = async (payload: unknown) => {
      if (response.destroyed) return false;
      response.write(`data: ${JSON.stringify(payload)}\n\n`);
      if (chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, chunkDelayMs));
      return !response.destroyed;
    };
    await write({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    const words = answer.content.split(/(?<= )/);
    const pieces = repeat ? Array.from({ length: repeat }, (_, index) => words[index % words.length]!) : words;
    for (const [index, piece] of pieces.entries()) {
      if (model.endsWith('-cutoff') && index === 3) {
        // Wait until the chunks so far have left, then drop the connection as a failing upstream would.
        await new Promise((resolve) => setTimeout(resolve, 20));
        response.destroy();
        return;
      }
      if (!(await write({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }))) return;
    }
    await write({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (body.stream_options?.include_usage && !withoutUsage) {
      await write({ ...base, object: 'chat.completion.chunk', choices: [], usage: answer.usage });
    }
    if (!response.destroyed) response.end('data: [DONE]\n\n');
  });
}

/** Prices used by the tests, in dollars per million tokens. */
export const testPrices = {
  'openai/gpt-4o-mini': { input_per_million: 2, output_per_million: 8, cache_read_per_million: 0.5 },
  'openai/gpt-4o-mini-nousage': { input_per_million: 2, output_per_million: 8 },
  'openai/gpt-4o-mini-slow': { input_per_million: 2, output_per_million: 8 },
  'openai/gpt-4o-mini-cutoff': { input_per_million: 2, output_per_million: 8 },
  'openai/gpt-4o-mini-bad': { input_per_million: 2, output_per_million: 8 },
  'openai/text-embedding-3-small': { input_per_million: 0.02, output_per_million: 0 },
  'openai/gpt-4o': { input_per_million: 5, output_per_million: 20, cache_read_per_million: 2.5, max_output_tokens: 16_384 },
};

/** The cost of `standardAnswer` on gpt-4o-mini: 600 plain input, 400 cached, 200 output tokens. */
export const standardCostMini = (600 * 2 + 400 * 0.5 + 200 * 8) / 1_000_000;

/** Waits for a condition that becomes true through other work (a ledger flush), checking every 20 ms, for at most 10 s. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface BillingServer {
  server: StartedServer;
  url: string;
  masterKey: string;
  directory: string;
  /** Calls the admin API with the master key; returns status and parsed body. */
  admin(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: any; headers: Headers }>;
  client(apiKey: string): OpenAI;
  close(): Promise<void>;
}

export interface BillingServerOptions {
  upstream: MockUpstream;
  env?: Record<string, string>;
  /** A data directory to reuse (restart tests); default: a new temporary one. */
  directory?: string;
  config?: Record<string, unknown>;
  masterKey?: string | null;
}

export function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'switchyard-billing-'));
}

/** The example server with billing on, an OpenAI-compatible mock as its provider and test prices. */
export async function startBillingServer(options: BillingServerOptions): Promise<BillingServer> {
  const directory = options.directory ?? temporaryDirectory();
  const configPath = join(directory, 'switchyard.json');
  writeFileSync(configPath, JSON.stringify(options.config ?? { billing: { prices: testPrices } }));
  const masterKey = options.masterKey === null ? '' : (options.masterKey ?? 'sk-master-test-0123456789');
  const { silentLogger } = await import('@switchyard/core');
  const server = await startServer(
    {
      PORT: '0',
      // These tests count upstream calls and charges per request: identical requests must not hit the cache.
      SWITCHYARD_CACHE: 'off',
      OPENAI_API_KEY: 'upstream-key',
      OPENAI_BASE_URL: `${options.upstream.url}/v1`,
      SWITCHYARD_CONFIG: configPath,
      SWITCHYARD_MASTER_KEY: masterKey,
      SWITCHYARD_DATA_DIR: join(directory, 'data'),
      ...options.env,
    },
    silentLogger,
  );
  const admin = async (method: string, path: string, body?: unknown, key = masterKey) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };
  return {
    server,
    url: server.url,
    masterKey,
    directory,
    admin,
    client: (apiKey: string) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 }),
    async close() {
      await server.close();
    },
  };
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true });
}
