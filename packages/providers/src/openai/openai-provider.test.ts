import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletionChunk, ChatCompletionRequest, ChatResult, ProviderCallOptions, ProviderV1 } from '@switchyard/core';
import { Cancellation, GatewayError } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockHandler, type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { fixtureChunks, fixtureEventStream, fixtureJson } from './__fixtures__/index.js';
import { createOpenAICompatible, type OpenAICompatibleOptions } from './openai-provider.js';

/*
 * The OpenAI-compatible provider against a local server speaking OpenAI's wire format: what is sent
 * upstream, what comes back, and how every way an upstream can fail reaches the gateway.
 */

const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((resource) => resource.close()));
});

async function mock(handler: MockHandler): Promise<MockUpstream> {
  const upstream = await startMockUpstream(handler);
  opened.push(upstream);
  return upstream;
}

function provider(upstream: { url: string }, options: Partial<OpenAICompatibleOptions> = {}): ProviderV1 {
  const created = createOpenAICompatible({ id: 'openai', baseURL: `${upstream.url}/v1`, apiKey: 'sk-test', ...options });
  opened.push({ close: () => created.close!() });
  return created;
}

function callOptions(signal: AbortSignal = new AbortController().signal): ProviderCallOptions {
  return { signal, requestId: 'req-test-1' };
}

const question: ChatCompletionRequest = { model: 'openai/gpt-4.1-nano', messages: [{ role: 'user', content: 'What does a rail yard do?' }] };
const streamedQuestion: ChatCompletionRequest = { ...question, stream: true };

async function collect(result: ChatResult): Promise<ChatCompletionChunk[]> {
  if (result.type !== 'stream') throw new Error('expected a stream');
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of result.stream) chunks.push(chunk);
  return chunks;
}

/** Collects chunks until the stream fails; returns both, so tests see what arrived before the failure. */
async function collectUntilError(result: ChatResult): Promise<{ chunks: ChatCompletionChunk[]; error: unknown }> {
  const chunks: ChatCompletionChunk[] = [];
  try {
    for await (const chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  throw new Error(`the stream ended without an error after ${chunks.length} chunks`);
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(GatewayError.isInstance(error)).toBe(true);
    return error as GatewayError;
  }
  throw new Error('expected a rejection');
}

/** Resolves when the upstream's response closes; true when the client left before the answer was finished. */
function closedEarly(response: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => response.once('close', () => resolve(!response.writableFinished)));
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe('chat completions (JSON)', () => {
  it('sends the request to /chat/completions with the key and the request id, and returns the answer', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    const openai = provider(upstream, { headers: { 'openai-organization': 'org-test' } });
    const result = await openai.chat('gpt-4.1-nano', { ...question, temperature: 0.3, a_future_parameter: true }, { ...callOptions(), headers: { 'x-trace': 't-1' } });

    expect(upstream.requests).toHaveLength(1);
    const sent = upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1/chat/completions');
    expect(sent.headers).toMatchObject({
      authorization: 'Bearer sk-test',
      'content-type': 'application/json',
      'x-request-id': 'req-test-1',
      'openai-organization': 'org-test',
      'x-trace': 't-1',
    });
    expect(sent.json).toEqual({ ...question, model: 'gpt-4.1-nano', temperature: 0.3, a_future_parameter: true });

    // OpenAI's answer needs no normalising, so its own text goes out rather than a second serialisation.
    expect(result).toEqual({ type: 'response', response: fixtureJson('chat-text.json'), json: Buffer.from(JSON.stringify(fixtureJson('chat-text.json'))) });
  });

  it('passes the upstream text on as it came, spacing and key order included, when normalising changed nothing', async () => {
    const text = `{ "object": "chat.completion", "id": "chatcmpl-1",\n  "created": 1771002345, "model": "m", "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
      "message": {"role": "assistant", "content": "hi", "refusal": null, "annotations": []}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, "x_extra": {"kept": true} }`;
    const upstream = await mock((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(text);
    });
    const result = await provider(upstream).chat('m', question, callOptions());
    expect(result).toEqual({ type: 'response', response: JSON.parse(text), json: Buffer.from(text) });
  });

  it('serialises the normalised answer when normalising changed something', async () => {
    const answers: Array<[string, Record<string, unknown>]> = [
      ['no refusal field', { message: { role: 'assistant', content: 'hi' } }],
      ["an unknown finish reason", { finish_reason: 'eos' }],
      ["reasoning under another name", { message: { role: 'assistant', content: 'hi', refusal: null, reasoning: 'because' } }],
      ['a field on the choice the gateway does not carry', { stop_reason: 42 }],
    ];
    for (const [what, change] of answers) {
      const raw = fixtureJson('chat-text.json') as { choices: Array<Record<string, unknown>> };
      raw.choices[0] = { ...raw.choices[0], ...change };
      const upstream = await mock((_request, response) => sendJson(response, 200, raw));
      const result = await provider(upstream).chat('gpt-4.1-nano', question, callOptions());
      expect(result.type === 'response' && result.json, what).toBeUndefined();
    }
  });

  it('sends no authorization header when no key is configured (Ollama, vLLM)', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    await provider(upstream, { apiKey: undefined }).chat('llama3.1', question, callOptions());
    expect(upstream.requests[0]!.headers).not.toHaveProperty('authorization');
  });

  it('puts the key in the header a provider names (Azure’s api-key) and the path it builds', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    const azureLike = provider(upstream, {
      apiKeyHeader: { name: 'api-key' },
      buildPath: (endpoint, modelId) => (endpoint === 'chat' ? `/deployments/${modelId}/chat/completions?api-version=2024-10-21` : null),
    });
    await azureLike.chat('my-deployment', question, callOptions());
    expect(upstream.requests[0]!.url).toBe('/v1/deployments/my-deployment/chat/completions?api-version=2024-10-21');
    expect(upstream.requests[0]!.headers['api-key']).toBe('sk-test');
    expect(upstream.requests[0]!.headers).not.toHaveProperty('authorization');
    const error = await rejection(azureLike.embeddings!('my-deployment', { model: 'e', input: 'x' }, callOptions()));
    expect(error).toMatchObject({ status: 400, code: 'model_not_supported' });
    expect(upstream.requests).toHaveLength(1);
  });

  it('returns parallel tool calls', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-tool-calls.json')));
    const result = await provider(upstream).chat('gpt-4.1-mini', question, callOptions());
    expect(result.type === 'response' && result.response.choices[0]!.message.tool_calls!.map((call) => JSON.parse(call.function.arguments))).toEqual([
      { city: 'Paris' },
      { city: 'Tokyo', unit: 'celsius' },
    ]);
  });

  it('reuses one keep-alive connection for consecutive calls, streams included', async () => {
    const ports: Array<number | undefined> = [];
    const upstream = await mock(async (request, response, raw) => {
      ports.push(raw.socket.remotePort);
      if ((request.json as { stream?: boolean }).stream !== true) return sendJson(response, 200, fixtureJson('chat-text.json'));
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of fixtureEventStream('chat-text.chunks.txt')) response.write(event);
      // The end of the body arrives a moment after `[DONE]`, as it can on a real network.
      await new Promise((resolve) => setTimeout(resolve, 30));
      response.end();
    });
    // One connection: the next call waits for it, so a connection dropped after `[DONE]` shows as a new port.
    const openai = provider(upstream, { connections: 1 });
    await openai.chat('gpt-4.1-nano', question, callOptions());
    const chunks = await collect(await openai.chat('gpt-4.1-nano', streamedQuestion, callOptions()));
    expect(chunks.at(-1)!.usage).toBeDefined();
    await openai.chat('gpt-4.1-nano', question, callOptions());
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(1);
    expect(upstream.abortedRequests).toHaveLength(0);
  });
});

describe('chat completions (stream)', () => {
  it('always asks for usage upstream and streams OpenAI’s chunks through, usage last', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, fixtureEventStream('chat-text.chunks.txt')));
    const chunks = await collect(await provider(upstream).chat('gpt-4.1-nano', streamedQuestion, callOptions()));

    expect(upstream.requests[0]!.json).toEqual({ ...streamedQuestion, model: 'gpt-4.1-nano', stream_options: { include_usage: true } });
    const recorded = fixtureChunks('chat-text.chunks.txt');
    expect(chunks).toHaveLength(recorded.length);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Rail yards sort freight cars.');
    expect(chunks.every((chunk) => chunk.id === 'chatcmpl-Sy7g1LqZr8uVb3NcX5pHk2Tw' && !('obfuscation' in chunk))).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 21, completion_tokens: 7, total_tokens: 28 }, system_fingerprint: 'fp_4c2e81a7d0' });
  });

  it('does not ask for usage when streamUsage is off', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, fixtureEventStream('chat-text.chunks.txt')));
    await collect(await provider(upstream, { streamUsage: false }).chat('gpt-4.1-nano', streamedQuestion, callOptions()));
    expect(upstream.requests[0]!.json).not.toHaveProperty('stream_options');
  });

  it('moves usage sent on the finishing chunk (Groq, DeepSeek) to a usage chunk of its own, last', async () => {
    const base = { id: 'chatcmpl-g', object: 'chat.completion.chunk', created: 1771000000, model: 'llama-3.3-70b-versatile' };
    const events = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], x_groq: { id: 'req_1', usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10, queue_time: 0.02 } } },
    ].map((event) => `data: ${JSON.stringify(event)}\n\n`);
    const upstream = await mock((_request, response) => writeEventStream(response, [...events, 'data: [DONE]\n\n']));
    const chunks = await collect(await provider(upstream, { id: 'groq' }).chat('llama-3.3-70b-versatile', streamedQuestion, callOptions()));
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).not.toHaveProperty('usage');
    expect(chunks[1]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[2]).toEqual({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } });
  });

  it('reassembles parallel tool calls from argument fragments', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, fixtureEventStream('chat-parallel-tool-calls.chunks.txt')));
    const chunks = await collect(await provider(upstream).chat('gpt-4.1-mini', streamedQuestion, callOptions()));
    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const call of chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])) {
      const entry = calls.get(call.index) ?? { arguments: '' };
      entry.id ??= call.id;
      entry.name ??= call.function?.name;
      entry.arguments += call.function?.arguments ?? '';
      calls.set(call.index, entry);
    }
    expect([...calls.values()].map((call) => ({ ...call, arguments: JSON.parse(call.arguments) }))).toEqual([
      { id: 'call_Q1wE2rT3yU4iO5pA', name: 'get_weather', arguments: { city: 'Paris' } },
      { id: 'call_Z9xC8vB7nM6lK5jH', name: 'get_weather', arguments: { city: 'Tokyo', unit: 'celsius' } },
    ]);
  });

  it('yields each chunk as it arrives, before the upstream has finished', async () => {
    const more = deferred();
    const events = fixtureEventStream('chat-text.chunks.txt');
    const upstream = await mock(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(events[0]);
      await more.promise;
      for (const event of events.slice(1)) response.write(event);
      response.end();
    });
    const result = await provider(upstream).chat('gpt-4.1-nano', streamedQuestion, callOptions());
    const iterator = (result as Extract<ChatResult, { type: 'stream' }>).stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value.choices[0].delta).toEqual({ role: 'assistant', content: '' });
    more.resolve();
    let rest = 0;
    while (!(await iterator.next()).done) rest++;
    expect(rest).toBe(events.length - 2);
  });

  it('ends quietly when the upstream closes after its last chunk without [DONE]', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, fixtureEventStream('chat-text.chunks.txt').slice(0, -1)));
    const chunks = await collect(await provider(upstream).chat('gpt-4.1-nano', streamedQuestion, callOptions()));
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(28);
  });
});

describe('embeddings and models', () => {
  it('sends embeddings to /embeddings with the provider’s model id and returns OpenAI’s list', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('embeddings.json')));
    const response = await provider(upstream).embeddings!('text-embedding-3-small', { model: 'openai/text-embedding-3-small', input: ['rail', 'yard'], dimensions: 8 }, callOptions());
    expect(upstream.requests[0]!.url).toBe('/v1/embeddings');
    expect(upstream.requests[0]!.json).toEqual({ model: 'text-embedding-3-small', input: ['rail', 'yard'], dimensions: 8 });
    expect(upstream.requests[0]!.headers['x-request-id']).toBe('req-test-1');
    expect(response).toEqual(fixtureJson('embeddings.json'));
  });

  it('passes base64 embeddings through and fills missing usage', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, { data: [{ index: 0, embedding: 'AAAAAA==' }] }));
    const response = await provider(upstream).embeddings!('nomic-embed-text', { model: 'nomic-embed-text', input: 'x', encoding_format: 'base64' }, callOptions());
    expect(response).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: 'AAAAAA==' }], model: 'nomic-embed-text', usage: { prompt_tokens: 0, total_tokens: 0 } });
  });

  it('reads a 200 embeddings answer carrying an error body as that error', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, { error: { message: 'Input too long for this model', type: 'invalid_request_error', code: 'context_length_exceeded' } }));
    const error = await rejection(provider(upstream, { id: 'together' }).embeddings!('e', { model: 'e', input: 'x' }, callOptions()));
    expect(error).toMatchObject({ status: 502, message: 'Input too long for this model', code: 'context_length_exceeded', provider: 'together' });
  });

  it('answers 502 for an embeddings body that is not a list of embeddings', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, { data: [{ index: 0 }] }));
    const error = await rejection(provider(upstream).embeddings!('e', { model: 'e', input: 'x' }, callOptions()));
    expect(error).toMatchObject({ status: 502, code: 'bad_upstream_response', isRetryable: true, provider: 'openai' });
  });

  it('lists the upstream’s /models once and serves later calls from its cache', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('models.json')));
    const openai = provider(upstream);
    const signal = new AbortController().signal;
    const first = await openai.listModels!({ signal });
    const second = await openai.listModels!({ signal });
    expect(upstream.requests.map((request) => `${request.method} ${request.url}`)).toEqual(['GET /v1/models']);
    expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-test');
    expect(second).toEqual(first);
    expect(first.map((model) => ({ id: model.id, created: model.created, ownedBy: model.ownedBy }))).toEqual([
      { id: 'gpt-4.1-nano', created: 1744321025, ownedBy: 'system' },
      { id: 'gpt-4.1-mini', created: 1744318173, ownedBy: 'system' },
      { id: 'text-embedding-3-small', created: 1705948997, ownedBy: 'system' },
    ]);
  });

  it('lists configured models without asking the upstream', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('models.json')));
    const models = await provider(upstream, { models: ['gpt-4.1-nano', 'my-fine-tune'] }).listModels!({ signal: new AbortController().signal });
    expect(models.map((model) => [model.id, model.ownedBy])).toEqual([
      ['gpt-4.1-nano', 'openai'],
      ['my-fine-tune', 'openai'],
    ]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('maps a failing /models to a GatewayError and does not cache it', async () => {
    let calls = 0;
    const upstream = await mock((_request, response) => {
      calls++;
      if (calls === 1) sendJson(response, 401, fixtureJson('error-401-invalid-api-key.json'));
      else sendJson(response, 200, fixtureJson('models.json'));
    });
    const openai = provider(upstream);
    const error = await rejection(openai.listModels!({ signal: new AbortController().signal }));
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', isRetryable: false });
    expect(await openai.listModels!({ signal: new AbortController().signal })).toHaveLength(3);
  });
});

describe('upstream HTTP errors', () => {
  it.each<{ status: number; fixture: string; headers: Record<string, string>; expected: Record<string, unknown> }>([
    { status: 400, fixture: 'error-400-empty-messages.json', headers: {}, expected: { status: 400, type: 'invalid_request_error', code: 'empty_array', param: 'messages', isRetryable: false, retryAfterMs: undefined } },
    { status: 401, fixture: 'error-401-invalid-api-key.json', headers: {}, expected: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', isRetryable: false } },
    { status: 404, fixture: 'error-404-model-not-found.json', headers: {}, expected: { status: 404, code: 'model_not_found', isRetryable: false } },
    { status: 429, fixture: 'error-429-rate-limit.json', headers: { 'retry-after': '3' }, expected: { status: 429, type: 'tokens', code: 'rate_limit_exceeded', isRetryable: true, retryAfterMs: 3000 } },
    { status: 500, fixture: 'error-500-server.json', headers: {}, expected: { status: 500, type: 'server_error', code: null, isRetryable: true, retryAfterMs: undefined } },
    { status: 503, fixture: 'error-503-overloaded.json', headers: { 'retry-after-ms': '250' }, expected: { status: 503, type: 'server_error', isRetryable: true, retryAfterMs: 250 } },
  ])('maps an upstream $status to a GatewayError', async ({ status, fixture, headers, expected }) => {
    const upstream = await mock((_request, response) => sendJson(response, status, fixtureJson(fixture), headers));
    const openai = provider(upstream);
    for (const request of [question, streamedQuestion]) {
      const error = await rejection(openai.chat('gpt-4.1-nano', request, callOptions()));
      expect(error).toMatchObject({ ...expected, provider: 'openai', upstreamStatus: status, message: fixtureJson(fixture).error.message });
      expect(error.upstreamBody).toEqual(fixtureJson(fixture));
    }
  });

  it('maps an upstream 529 “overloaded” to 503 and an HTML 502 page to a retryable 502', async () => {
    let next = 529;
    const upstream = await mock((_request, response) => {
      if (next === 529) sendJson(response, 529, { error: { message: 'Overloaded', type: 'overloaded_error' } });
      else {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      }
    });
    const openai = provider(upstream);
    expect(await rejection(openai.chat('m', question, callOptions()))).toMatchObject({ status: 503, type: 'overloaded_error', isRetryable: true, upstreamStatus: 529 });
    next = 502;
    const error = await rejection(openai.chat('m', question, callOptions()));
    expect(error).toMatchObject({ status: 502, type: 'api_error', isRetryable: true, upstreamStatus: 502 });
    expect(error.message).toContain('HTTP 502');
    expect(error.message).toContain('502 Bad Gateway');
  });

  it('answers 502 for a 200 whose body is not JSON, or JSON that is not a completion', async () => {
    let body = 'upstream proxy says hello';
    const upstream = await mock((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    });
    const openai = provider(upstream);
    expect(await rejection(openai.chat('m', question, callOptions()))).toMatchObject({ status: 502, code: 'bad_upstream_response', isRetryable: true, provider: 'openai' });
    body = '';
    expect(await rejection(openai.chat('m', question, callOptions()))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
    body = JSON.stringify({ id: 'x', object: 'chat.completion' });
    expect(await rejection(openai.chat('m', question, callOptions()))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
  });

  it('reads a 200 carrying an error body as that error, answered 502', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, { error: { message: 'This model is currently loading', type: 'server_error', code: 'model_loading' } }));
    const openai = provider(upstream, { id: 'together' });
    for (const request of [question, streamedQuestion]) {
      const error = await rejection(openai.chat('m', request, callOptions()));
      expect(error).toMatchObject({ status: 502, message: 'This model is currently loading', code: 'model_loading', provider: 'together', isRetryable: true });
    }
  });

  it('answers 502 when a stream request gets something other than an event stream', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    const error = await rejection(provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(error).toMatchObject({ status: 502, code: 'bad_upstream_response' });
    expect(error.message).toContain('application/json');
  });
});

describe('transport failures', () => {
  it('answers 504 when the upstream sends no first byte in time', async () => {
    const arrived = deferred();
    const upstream = await mock(() => arrived.resolve());
    const started = performance.now();
    const error = await rejection(provider(upstream, { firstByteTimeoutMs: 150 }).chat('m', question, callOptions()));
    expect(error).toMatchObject({ status: 504, type: 'timeout_error', code: 'upstream_timeout', isRetryable: true, provider: 'openai' });
    expect(error.message).toContain('first byte');
    await arrived.promise;
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers 504 when a stream goes silent for longer than the idle timeout', async () => {
    const upstream = await mock((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(fixtureEventStream('chat-text.chunks.txt')[0]);
    });
    const result = await provider(upstream, { idleTimeoutMs: 150 }).chat('m', streamedQuestion, callOptions());
    const { chunks, error } = await collectUntilError(result);
    expect(chunks).toHaveLength(1);
    expect(error).toMatchObject({ status: 504, code: 'upstream_timeout', isRetryable: true });
  });

  it('answers 502 when the connection is refused', async () => {
    const closedServer = createServer();
    await new Promise<void>((resolve) => closedServer.listen(0, '127.0.0.1', resolve));
    const { port } = closedServer.address() as AddressInfo;
    await new Promise<void>((resolve) => closedServer.close(() => resolve()));
    const error = await rejection(provider({ url: `http://127.0.0.1:${port}` }).chat('m', question, callOptions()));
    expect(error).toMatchObject({ status: 502, type: 'api_error', code: 'upstream_unreachable', isRetryable: true, provider: 'openai' });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('fails the stream with a retryable 502 when the upstream drops the connection mid-stream', async () => {
    const upstream = await mock(async (_request, response, raw) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of fixtureEventStream('chat-text.chunks.txt').slice(0, 3)) response.write(event);
      await new Promise((resolve) => setTimeout(resolve, 20));
      raw.socket.destroy();
    });
    const { chunks, error } = await collectUntilError(await provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(chunks).toHaveLength(3);
    expect(error).toMatchObject({ status: 502, isRetryable: true, provider: 'openai' });
    expect((error as GatewayError).message).toMatch(/^The connection to the upstream provider 'openai' was closed unexpectedly/);
  });
});

describe('errors inside a stream', () => {
  const firstEvents = fixtureEventStream('chat-text.chunks.txt').slice(0, 2);

  it('turns an `error` payload after some chunks into a GatewayError with the upstream’s words', async () => {
    const errorEvent = `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', code: 'server_error' } })}\n\n`;
    const upstream = await mock((_request, response) => writeEventStream(response, [...firstEvents, errorEvent]));
    const { chunks, error } = await collectUntilError(await provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(chunks).toHaveLength(2);
    expect(error).toMatchObject({ status: 502, type: 'server_error', code: 'server_error', message: 'The server had an error while processing your request.', isRetryable: true, provider: 'openai' });
  });

  it('turns an `event: error` frame into a GatewayError', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, [...firstEvents, 'event: error\ndata: {"message":"overloaded"}\n\n']));
    const { chunks, error } = await collectUntilError(await provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(chunks).toHaveLength(2);
    expect(error).toMatchObject({ status: 502, code: 'upstream_stream_error', isRetryable: true });
  });

  it('fails with 502 on an event that is not JSON, after passing the chunks before it', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, [...firstEvents, 'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"x"\n\n', 'data: [DONE]\n\n']));
    const { chunks, error } = await collectUntilError(await provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(chunks).toHaveLength(2);
    expect(error).toMatchObject({ status: 502, code: 'bad_upstream_response', isRetryable: true, provider: 'openai' });
  });

  it('reads chunks that carry `error: null` as ordinary chunks', async () => {
    const events = fixtureChunks<Record<string, unknown>>('chat-text.chunks.txt').map((chunk) => `data: ${JSON.stringify({ ...chunk, error: null })}\n\n`);
    const upstream = await mock((_request, response) => writeEventStream(response, [...events, 'data: [DONE]\n\n']));
    const chunks = await collect(await provider(upstream, { id: 'openrouter' }).chat('m', streamedQuestion, callOptions()));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Rail yards sort freight cars.');
  });

  it('fails with 502 on JSON that is not a chunk', async () => {
    const upstream = await mock((_request, response) => writeEventStream(response, [...firstEvents, 'data: {"choices":"none"}\n\n']));
    const { error } = await collectUntilError(await provider(upstream).chat('m', streamedQuestion, callOptions()));
    expect(error).toMatchObject({ status: 502, code: 'bad_upstream_response' });
  });
});

describe('cancellation', () => {
  /** A stream that sends its first chunk, then waits: the test decides when the client leaves. */
  async function stalledStream() {
    const closed = deferred<boolean>();
    const upstream = await mock((_request, response) => {
      void closedEarly(response).then(closed.resolve);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(fixtureEventStream('chat-text.chunks.txt')[0]);
    });
    return { upstream, closed: closed.promise };
  }

  /** A request the upstream receives and never answers: `arrived` once it has it, `closed` when it went away. */
  async function unansweredRequest() {
    const arrived = deferred();
    const closed = deferred<boolean>();
    const upstream = await mock((_request, response) => {
      void closedEarly(response).then(closed.resolve);
      arrived.resolve();
    });
    return { upstream, arrived: arrived.promise, closed: closed.promise };
  }

  it('closes the upstream connection when the signal aborts mid-stream', async () => {
    const { upstream, closed } = await stalledStream();
    const controller = new AbortController();
    const result = await provider(upstream).chat('m', streamedQuestion, callOptions(controller.signal));
    const iterator = (result as Extract<ChatResult, { type: 'stream' }>).stream[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    const pending = iterator.next();
    controller.abort(new DOMException('The client disconnected.', 'AbortError'));
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(await closed).toBe(true);
  });

  it('closes the upstream connection when the consumer stops reading', async () => {
    const { upstream, closed } = await stalledStream();
    const result = await provider(upstream).chat('m', streamedQuestion, callOptions());
    for await (const _chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream) break;
    expect(await closed).toBe(true);
  });

  it('closes the upstream connection when the signal aborts before the answer starts', async () => {
    const { upstream, arrived, closed } = await unansweredRequest();
    const controller = new AbortController();
    const call = provider(upstream).chat('m', question, callOptions(controller.signal));
    await arrived;
    controller.abort(new DOMException('The client disconnected.', 'AbortError'));
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(await closed).toBe(true);
  });

  it('closes the upstream connection when the gateway\'s cancellation aborts, without making its signal', async () => {
    const { upstream, arrived, closed } = await unansweredRequest();
    const cancellation = new Cancellation();
    let signalRead = false;
    // As the gateway passes them: the signal is a getter that makes one when read.
    const options: ProviderCallOptions = {
      requestId: 'req-test-1',
      cancellation,
      get signal() {
        signalRead = true;
        return cancellation.signal;
      },
    };
    const call = provider(upstream).chat('m', question, options);
    await arrived;
    cancellation.abort(new DOMException('The client disconnected.', 'AbortError'));
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(await closed).toBe(true);
    expect(signalRead).toBe(false);

    const answered = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    const already = new Cancellation();
    already.abort(new DOMException('gone', 'AbortError'));
    await expect(provider(answered).chat('m', question, { requestId: 'req-test-2', cancellation: already, signal: already.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(answered.requests).toHaveLength(0);
  });

  it('does not call the upstream at all when the signal is already aborted', async () => {
    const upstream = await mock((_request, response) => sendJson(response, 200, fixtureJson('chat-text.json')));
    const controller = new AbortController();
    controller.abort(new DOMException('gone', 'AbortError'));
    await expect(provider(upstream).chat('m', question, callOptions(controller.signal))).rejects.toMatchObject({ name: 'AbortError' });
    expect(upstream.requests).toHaveLength(0);
  });
});
