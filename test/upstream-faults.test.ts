/**
 * Upstream faults from a mock provider, each through the full gateway: the client gets the right error —
 * or the backup target's answer when a fallback is configured — and never a fabricated success, and no
 * request outlives its deadline.
 */
import type { ServerResponse } from 'node:http';
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { createFallbackPlugin } from '@switchyard/plugin-fallback';
import { createOpenAICompatible } from '@switchyard/providers';
import { type MockUpstream, type RecordedRequest, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Fault = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-f', object: 'chat.completion.chunk', created: 1, model: 'faulty', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const errorBody = (status: number) => ({ error: { message: `upstream says ${status}`, type: 'server_error', code: null, param: null } });
const isStream = (request: RecordedRequest) => (request.json as { stream?: boolean }).stream === true;

/** Each fault, and the status a client gets when no backup exists (undefined: an error frame mid-stream). */
const faults: Record<string, { fault: Fault; json: number; stream: number | 'frame' }> = {
  'rate limited 429': { fault: (_q, r) => sendJson(r, 429, errorBody(429), { 'retry-after': '0' }), json: 429, stream: 429 },
  'internal error 500': { fault: (_q, r) => sendJson(r, 500, errorBody(500)), json: 500, stream: 500 },
  'unavailable 503': { fault: (_q, r) => sendJson(r, 503, errorBody(503)), json: 503, stream: 503 },
  'overloaded 529': { fault: (_q, r) => sendJson(r, 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), json: 503, stream: 503 },
  'no first byte (timeout)': { fault: () => new Promise(() => {}), json: 504, stream: 504 },
  'reset before headers': { fault: (_q, r) => void r.socket?.destroy(), json: 502, stream: 502 },
  'reset after headers': {
    fault: (q, r) => {
      r.writeHead(200, { 'content-type': isStream(q) ? 'text/event-stream' : 'application/json' });
      r.flushHeaders();
      setTimeout(() => r.socket?.destroy(), 10);
    },
    json: 502,
    stream: 502,
  },
  'malformed JSON': { fault: (_q, r) => void r.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "x", "choices": [{'), json: 502, stream: 502 },
  'wrong content type': { fault: (_q, r) => void r.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway timeout</html>'), json: 502, stream: 502 },
  '200 with an error body': { fault: (_q, r) => sendJson(r, 200, errorBody(200)), json: 502, stream: 502 },
  'malformed SSE': {
    fault: (q, r) => {
      if (!isStream(q)) return sendJson(r, 200, { nonsense: true });
      r.writeHead(200, { 'content-type': 'text/event-stream' });
      r.end('data: {"id": broken\n\n');
    },
    json: 502,
    stream: 502,
  },
  'mid-stream drop': {
    fault: (q, r) => {
      if (!isStream(q)) return void r.socket?.destroy();
      r.writeHead(200, { 'content-type': 'text/event-stream' });
      r.write(chunk({ role: 'assistant', content: '' }));
      r.write(chunk({ content: 'partial answer' }));
      setTimeout(() => r.socket?.destroy(), 10);
    },
    json: 502,
    stream: 'frame',
  },
  'stream that never ends': {
    fault: (q, r) => {
      if (!isStream(q)) return new Promise(() => {});
      r.writeHead(200, { 'content-type': 'text/event-stream' });
      r.write(chunk({ role: 'assistant', content: '' }));
      const timer = setInterval(() => (r.destroyed ? clearInterval(timer) : r.write(chunk({ content: 'more ' }))), 20);
      r.on('close', () => clearInterval(timer));
    },
    json: 504,
    stream: 'frame',
  },
};

const healthy: Fault = (q, r) => {
  if (isStream(q)) {
    r.writeHead(200, { 'content-type': 'text/event-stream' });
    r.write(chunk({ role: 'assistant', content: '' }));
    r.write(chunk({ content: 'backup answer' }));
    r.write(chunk({}, 'stop'));
    r.end('data: [DONE]\n\n');
    return;
  }
  sendJson(r, 200, { id: 'chatcmpl-ok', object: 'chat.completion', created: 1, model: 'backup', choices: [{ index: 0, message: { role: 'assistant', content: 'backup answer', refusal: null }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
};

let faulty: MockUpstream;
let backup: MockUpstream;
let currentFault: Fault = healthy;
let gateway: Gateway;
let client: OpenAI;
const deadlineMs = 1_500;

beforeAll(async () => {
  faulty = await startMockUpstream((request, response) => currentFault(request, response));
  backup = await startMockUpstream(healthy);
  gateway = createGateway({
    providers: [
      createOpenAICompatible({ id: 'faulty', baseURL: `${faulty.url}/v1`, apiKey: 'x' }),
      createOpenAICompatible({ id: 'backup', baseURL: `${backup.url}/v1`, apiKey: 'x' }),
    ],
    plugins: [
      createFallbackPlugin({
        groups: { protected: { strategy: 'ordered', targets: [{ model: 'faulty/model' }, { model: 'backup/model' }] } },
        retry: { attemptsPerTarget: 1, baseDelayMs: 0 },
        timeouts: { firstByteMs: 300, totalMs: 800 },
        // Every fault here is deliberate: keep the breaker from skipping the faulty target.
        breaker: { consecutiveFailures: 1_000, minimumCalls: 1_000 },
      }),
    ],
    logger: silentLogger,
  });
  const { url } = await gateway.listen(0);
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 10_000 });
});

afterAll(async () => {
  await gateway.close();
  await faulty.close();
  await backup.close();
});

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

async function streamOutcome(model: string): Promise<{ status: number | 'frame' | 'ok'; text: string }> {
  let text = '';
  try {
    const stream = await client.chat.completions.create({ model, stream: true, ...ask });
    let finished = false;
    try {
      for await (const part of stream) {
        text += part.choices[0]?.delta?.content ?? '';
        if (part.choices[0]?.finish_reason) finished = true;
      }
    } catch {
      return { status: 'frame', text };
    }
    return { status: finished ? 'ok' : 'frame', text };
  } catch (error) {
    return { status: (error as InstanceType<typeof OpenAI.APIError>).status ?? -1, text };
  }
}

describe('upstream faults', () => {
  for (const [name, { fault, json, stream }] of Object.entries(faults)) {
    it(`${name}: the right error alone, the backup's answer with a fallback, within the deadline`, async () => {
      currentFault = fault;
      let started = Date.now();
      const alone = await client.chat.completions.create({ model: 'faulty/model', ...ask }).then(
        () => 'fabricated success',
        (error: unknown) => (error as InstanceType<typeof OpenAI.APIError>).status,
      );
      expect(alone).toBe(json);
      expect(Date.now() - started).toBeLessThan(deadlineMs);

      started = Date.now();
      const aloneStream = await streamOutcome('faulty/model');
      expect(aloneStream.status).toBe(stream);
      expect(Date.now() - started).toBeLessThan(deadlineMs);

      const withBackup = await client.chat.completions.create({ model: 'protected', ...ask });
      expect(withBackup.choices[0]!.message.content).toBe('backup answer');
      const streamWithBackup = await streamOutcome('protected');
      if (stream === 'frame') {
        // Content already reached the client: no failover, an error frame and never a fake stop.
        expect(streamWithBackup.status).toBe('frame');
        expect(streamWithBackup.text).not.toContain('backup answer');
      } else {
        expect(streamWithBackup).toEqual({ status: 'ok', text: 'backup answer' });
      }
    });
  }
});
