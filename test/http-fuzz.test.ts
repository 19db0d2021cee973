/**
 * Bad-input fuzzing through the real HTTP endpoint: thousands of generated requests — wrong types, missing
 * fields, huge and deep JSON, invalid UTF-8, wrong content types, oversize bodies, absurd parameters — must
 * each get a 2xx or an OpenAI-shaped 4xx error. Never a 5xx, never a crash, never a hang.
 */
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { createCachePlugin } from '@switchyard/plugin-cache';
import { createFallbackPlugin } from '@switchyard/plugin-fallback';
import { createObservabilityPlugin } from '@switchyard/plugin-observability';
import { createRateLimitPlugin } from '@switchyard/plugin-ratelimit';
import { createEchoProvider } from '@switchyard/providers';
import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let gateway: Gateway;
let pool: Pool;
const bodyLimitBytes = 64 * 1024;

beforeAll(async () => {
  gateway = createGateway({
    providers: [createEchoProvider()],
    plugins: [
      createRateLimitPlugin({ anonymous: { rpm: 1_000_000, tpm: 1_000_000_000, maxConcurrency: 1_000 } }),
      createCachePlugin({ semantic: { embedder: 'local' } }),
      createFallbackPlugin({ groups: { smart: { targets: [{ model: 'demo/echo' }] } } }),
      createObservabilityPlugin({ requestLog: false }),
    ],
    bodyLimitBytes,
    logger: silentLogger,
  });
  const { url } = await gateway.listen(0);
  pool = new Pool(url, { connections: 8 });
});

afterAll(async () => {
  await pool.close();
  await gateway.close();
});

interface Outcome {
  status: number;
  body: string;
}

async function send(path: string, body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/json' }, method: 'POST' | 'GET' = 'POST'): Promise<Outcome> {
  const response = await pool.request({ path, method, body: method === 'GET' ? undefined : body, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: response.statusCode, body: await response.body.text() };
}

const counts = { requests: 0, byStatus: new Map<number, number>() };

function checkOutcome(outcome: Outcome): void {
  counts.requests += 1;
  counts.byStatus.set(outcome.status, (counts.byStatus.get(outcome.status) ?? 0) + 1);
  expect(outcome.status, outcome.body).toBeLessThan(500);
  if (outcome.status >= 400) {
    const parsed = JSON.parse(outcome.body) as { error: Record<string, unknown> };
    expect(typeof parsed.error.message).toBe('string');
    expect(typeof parsed.error.type).toBe('string');
    expect(parsed.error.param === null || typeof parsed.error.param === 'string').toBe(true);
    expect(parsed.error.code === null || typeof parsed.error.code === 'string').toBe(true);
  } else if (outcome.body.startsWith('data:')) {
    expect(outcome.body.trimEnd().endsWith('data: [DONE]') || outcome.body.includes('"error"')).toBe(true);
  } else {
    JSON.parse(outcome.body);
  }
}

const validMessages = [{ role: 'user', content: 'hello' }];
const knownFields = ['model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'n', 'max_tokens', 'max_completion_tokens', 'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'seed', 'user', 'metadata', 'reasoning_effort', 'models'];

/** Any JSON value, including absurd numbers and odd strings. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(1e308, -1e308, 0, -1, 2 ** 53, 1.5, Number.MAX_SAFE_INTEGER, '', ' ', '\u0000', '😀'.repeat(50), 'demo/echo', 'smart', 'nowhere/x'),
);

/** A valid request with one or more fields replaced by anything, or removed. */
const mutatedChat = fc
  .record({
    base: fc.constant({ model: 'demo/echo', messages: validMessages }),
    changes: fc.array(fc.tuple(fc.constantFrom(...knownFields), fc.option(anyValue, { nil: undefined })), { minLength: 1, maxLength: 4 }),
  })
  .map(({ base, changes }) => {
    const body: Record<string, unknown> = { ...base };
    for (const [field, value] of changes) {
      if (value === undefined) delete body[field];
      else body[field] = value;
    }
    return body;
  });

/** Messages arrays of random shapes. */
const randomMessages = fc.record({
  model: fc.constantFrom('demo/echo', 'smart'),
  messages: fc.array(
    fc.record(
      {
        role: fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function'), fc.string()),
        content: fc.oneof(fc.string(), fc.constant(null), fc.array(fc.record({ type: fc.constantFrom('text', 'image_url', 'input_audio', 'file', 'bogus'), text: fc.string(), image_url: anyValue }, { requiredKeys: ['type'] }), { maxLength: 3 }), anyValue),
        tool_calls: fc.array(fc.record({ id: fc.string(), type: fc.constant('function'), function: fc.record({ name: fc.string(), arguments: fc.string() }) }), { maxLength: 2 }),
        tool_call_id: fc.string(),
        name: fc.string(),
      },
      { requiredKeys: ['role'] },
    ),
    { maxLength: 4 },
  ),
  stream: fc.boolean(),
});

describe('bad input through HTTP', () => {
  it('answers mutated chat requests with 2xx or an OpenAI-shaped 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedChat, async (body) => checkOutcome(await send('/v1/chat/completions', JSON.stringify(body)))),
      { numRuns: 4_000 },
    );
  });

  it('answers random message shapes', async () => {
    await fc.assert(
      fc.asyncProperty(randomMessages, async (body) => checkOutcome(await send('/v1/chat/completions', JSON.stringify(body)))),
      { numRuns: 2_500 },
    );
  });

  it('answers arbitrary JSON bodies on every endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/chat/completions', '/v1/embeddings', '/chat/completions'), fc.jsonValue({ maxDepth: 6 }), async (path, body) =>
        checkOutcome(await send(path, JSON.stringify(body))),
      ),
      { numRuns: 1_500 },
    );
  });

  it('answers raw bytes: invalid UTF-8, truncated JSON, wrong content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
          fc.string().map((text) => `{"model":"demo/echo","messages":[{"role":"user","content":"${text}`),
          fc.constant(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])),
        ),
        fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''),
        async (body, contentType) => checkOutcome(await send('/v1/chat/completions', body, contentType ? { 'content-type': contentType } : {})),
      ),
      { numRuns: 1_500 },
    );
  });

  it('refuses oversize and deeply nested bodies with 413 and 400', async () => {
    const oversize = await send('/v1/chat/completions', JSON.stringify({ model: 'demo/echo', messages: [{ role: 'user', content: 'x'.repeat(bodyLimitBytes) }] }));
    checkOutcome(oversize);
    expect(oversize.status).toBe(413);
    const deep = await send('/v1/chat/completions', `${'['.repeat(100_000)}${']'.repeat(100_000)}`.slice(0, bodyLimitBytes - 1));
    checkOutcome(deep);
    expect(deep.status).toBe(400);
    const deepInField = await send('/v1/chat/completions', `{"model":"demo/echo","messages":[{"role":"user","content":"hi"}],"extra":${'{"a":'.repeat(500)}1${'}'.repeat(500)}}`);
    checkOutcome(deepInField);
    expect(deepInField.status).toBe(400);
    for (let index = 0; index < 500; index++) {
      const size = 1 + Math.floor(Math.random() * 3 * bodyLimitBytes);
      checkOutcome(await send('/v1/embeddings', JSON.stringify({ model: 'demo/echo', input: 'y'.repeat(size) })));
    }
  });

  it('answers unknown routes and methods with JSON errors', async () => {
    for (const [path, method] of [['/v1/unknown', 'POST'], ['/v1/chat/completions', 'GET'], ['/', 'GET'], ['/v1/models/%E0%A4%A', 'GET']] as const) {
      checkOutcome(await send(path, '{}', { 'content-type': 'application/json' }, method));
    }
  });

  afterAll(() => {
    // Printed for the record of what was run.
    console.log(`fuzz: ${counts.requests} requests, statuses ${JSON.stringify(Object.fromEntries(counts.byStatus))}`);
    expect(counts.requests).toBeGreaterThanOrEqual(10_000);
  });
});
