import type { ServerResponse } from 'node:http';
import { silentLogger } from '@switchyard/core';
import { type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '@switchyard/providers/test-utils';
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureEventStream, fixtureJson } from '../../../packages/providers/src/openai/__fixtures__/index.js';
import { type StartedServer, startServer } from '../src/server.js';

/*
 * The example server as its users start it — OPENAI_API_KEY and OPENAI_BASE_URL in the environment — in
 * front of a local upstream speaking OpenAI's wire format, driven by the official `openai` SDK. What the
 * SDK sees here is what any OpenAI client sees from the gateway.
 */

/** What the mock upstream does for each model the tests ask for. */
type Behaviour = (response: ServerResponse, streamed: boolean, socket: { destroy(): void }) => void | Promise<void>;

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

const streamStarted = deferred();
const upstreamClosedEarly = deferred<boolean>();

const behaviours: Record<string, Behaviour> = {
  'gpt-4.1-nano': (response, streamed) =>
    streamed ? writeEventStream(response, fixtureEventStream('chat-text.chunks.txt')) : sendJson(response, 200, fixtureJson('chat-text.json')),
  'gpt-4.1-mini': (response, streamed) =>
    streamed ? writeEventStream(response, fixtureEventStream('chat-parallel-tool-calls.chunks.txt')) : sendJson(response, 200, fixtureJson('chat-tool-calls.json')),
  'revoked-key': (response) => sendJson(response, 401, fixtureJson('error-401-invalid-api-key.json')),
  'busy-model': (response) => sendJson(response, 429, fixtureJson('error-429-rate-limit.json'), { 'retry-after-ms': '40' }),
  'broken-model': (response) => sendJson(response, 500, fixtureJson('error-500-server.json')),
  // Sends the first chunks, then keeps the answer open until the gateway goes away.
  'endless-model': (response) => {
    response.once('close', () => upstreamClosedEarly.resolve(!response.writableFinished));
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const event of fixtureEventStream('chat-text.chunks.txt').slice(0, 3)) response.write(event);
    streamStarted.resolve();
  },
  // Sends the first chunks, then the connection dies.
  'dropping-model': async (response, _streamed, socket) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const event of fixtureEventStream('chat-text.chunks.txt').slice(0, 3)) response.write(event);
    await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
  },
};

describe('example server with OpenAI, called with the openai SDK', () => {
  let upstream: MockUpstream;
  let server: StartedServer;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startMockUpstream(async (request, response, raw) => {
      if (request.headers.authorization !== 'Bearer test') return sendJson(response, 401, fixtureJson('error-401-invalid-api-key.json'));
      if (request.method === 'GET' && request.url === '/v1/models') return sendJson(response, 200, fixtureJson('models.json'));
      if (request.method === 'POST' && request.url === '/v1/embeddings') return sendJson(response, 200, fixtureJson('embeddings.json'));
      const body = request.json as { model?: string; stream?: boolean };
      const behaviour = request.url === '/v1/chat/completions' ? behaviours[body.model ?? ''] : undefined;
      if (!behaviour) return sendJson(response, 404, fixtureJson('error-404-model-not-found.json'));
      await behaviour(response, body.stream === true, raw.socket);
    });
    // Repeated identical requests here test the upstream path, not the cache (tested in plugin-cache).
    server = await startServer({ PORT: '0', SWITCHYARD_CACHE: 'off', OPENAI_API_KEY: 'test', OPENAI_BASE_URL: `${upstream.url}/v1` }, silentLogger);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  /** The upstream calls made for one model, in order. */
  const callsFor = (model: string) => upstream.requests.filter((request) => (request.json as { model?: string } | undefined)?.model === model);

  it('answers a JSON completion', async () => {
    const completion = await client.chat.completions.create({ model: 'openai/gpt-4.1-nano', messages: [{ role: 'user', content: 'What does a rail yard do?' }], temperature: 0 });
    expect(completion.choices[0]!.message.content).toBe('Rail yards sort freight cars onto the right tracks, one switch at a time.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 16, total_tokens: 37 });
    expect(completion.id).toBe('chatcmpl-Sy7fQ2mKcT9wLp4RbN0aVx1Ed');

    const sent = callsFor('gpt-4.1-nano').at(-1)!;
    expect(sent.json).toEqual({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'What does a rail yard do?' }], temperature: 0 });
    // The gateway's own key goes upstream; the client's key never does.
    expect(sent.headers.authorization).toBe('Bearer test');
  });

  it('keeps the gateway’s own `models` fallback list away from the upstream, and passes other fields through', async () => {
    const request = { model: 'openai/gpt-4.1-nano', models: ['openai/gpt-4.1-mini'], messages: [{ role: 'user' as const, content: 'fields check' }], metadata: { team: 'yard' }, store: false };
    await client.chat.completions.create(request as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const sent = upstream.requests.find((entry) => JSON.stringify(entry.json).includes('fields check'))!;
    expect(sent.json).toEqual({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'fields check' }], metadata: { team: 'yard' }, store: false });
  });

  it('resolves a bare model name to OpenAI by its prefix', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toContain('Rail yards');
  });

  it('streams deltas, with the final usage chunk when the client asks for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4.1-nano',
      messages: [{ role: 'user', content: 'What does a rail yard do?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Rail yards sort freight cars.');
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason).map((chunk) => chunk.choices[0]!.finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 7, total_tokens: 28 });
    expect(chunks.filter((chunk) => chunk.usage)).toHaveLength(1);
  });

  it('streams without a usage chunk when the client did not ask, though usage was asked upstream', async () => {
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4.1-nano', messages: [{ role: 'user', content: 'no usage please' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.choices.length === 1 && !chunk.usage)).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    const sent = upstream.requests.find((request) => JSON.stringify(request.json).includes('no usage please'))!;
    expect((sent.json as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });
  });

  it('returns parallel tool calls, JSON and reassembled by the SDK from a stream', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] } },
      },
    ];
    const request = { model: 'openai/gpt-4.1-mini', messages: [{ role: 'user' as const, content: 'Weather in Paris and Tokyo?' }], tools, parallel_tool_calls: true };

    const completion = await client.chat.completions.create(request);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]!.message.tool_calls!.map((call) => call.type === 'function' && JSON.parse(call.function.arguments))).toEqual([
      { city: 'Paris' },
      { city: 'Tokyo', unit: 'celsius' },
    ]);

    const stream = client.chat.completions.stream({ ...request, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.choices[0]!.message.tool_calls!.map((call) => call.type === 'function' && { id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) })).toEqual([
      { id: 'call_Q1wE2rT3yU4iO5pA', name: 'get_weather', arguments: { city: 'Paris' } },
      { id: 'call_Z9xC8vB7nM6lK5jH', name: 'get_weather', arguments: { city: 'Tokyo', unit: 'celsius' } },
    ]);
    expect(final.usage).toMatchObject({ prompt_tokens: 84, completion_tokens: 52, total_tokens: 136 });
  });

  it('passes an upstream 401 on as AuthenticationError, without retrying it', async () => {
    const error = await client.chat.completions.create({ model: 'openai/revoked-key', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect((error as APIError).message).toContain('Incorrect API key provided');
    expect(callsFor('revoked-key')).toHaveLength(1);
  });

  it('passes an upstream 429 on as RateLimitError with the wait it asked for, after the gateway’s own retry', async () => {
    const error = await client.chat.completions.create({ model: 'openai/busy-model', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded', type: 'tokens' });
    expect((error as APIError).headers?.get('retry-after-ms')).toBe('40');
    expect((error as APIError).headers?.get('retry-after')).toBe('1');
    // The fallback plugin tries a target twice before giving up (attemptsPerTarget = 2).
    expect(callsFor('busy-model')).toHaveLength(2);
  });

  it('passes an upstream 500 on as InternalServerError', async () => {
    const error = await client.chat.completions.create({ model: 'openai/broken-model', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 500, type: 'server_error' });
    expect((error as APIError).message).toContain('The server had an error while processing your request');
    expect(callsFor('broken-model')).toHaveLength(2);
  });

  it('passes a failing stream request on with its status, before any chunk is sent', async () => {
    const error = await client.chat.completions.create({ model: 'openai/revoked-key', messages: [{ role: 'user', content: 'hi' }], stream: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('answers NotFoundError for a model the upstream does not know', async () => {
    const error = await client.chat.completions.create({ model: 'openai/gpt-9-imaginary', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ code: 'model_not_found' });
  });

  it('closes the upstream connection when the client aborts a stream', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'openai/endless-model', messages: [{ role: 'user', content: 'go on forever' }], stream: true },
      { signal: controller.signal },
    );
    await streamStarted.promise;
    const received: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream) {
        received.push(chunk.choices[0]?.delta.content ?? '');
        if (received.length === 3) controller.abort();
      }
    })();
    // The SDK ends the iteration quietly when its own signal aborts it.
    await reading;
    expect(received).toEqual(['', 'Rail', ' yards']);
    expect(controller.signal.aborted).toBe(true);
    expect(await upstreamClosedEarly.promise).toBe(true);
  });

  it('ends a stream whose upstream connection drops with an error frame the SDK throws', async () => {
    const stream = await client.chat.completions.create({ model: 'openai/dropping-model', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((caught: unknown) => caught);
    expect(received).toEqual(['', 'Rail', ' yards']);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as APIError).error).toMatchObject({ type: 'api_error' });
    expect((error as APIError).message).toMatch(/^The connection to the upstream provider 'openai' was closed unexpectedly/);
  });

  it('creates embeddings', async () => {
    const response = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: ['rail', 'yard'], encoding_format: 'float' });
    expect(response.data.map((item) => item.embedding)).toEqual(fixtureJson('embeddings.json').data.map((item: { embedding: number[] }) => item.embedding));
    expect(response.usage).toEqual({ prompt_tokens: 9, total_tokens: 9 });
    const sent = upstream.requests.find((request) => request.url === '/v1/embeddings')!;
    expect(sent.json).toEqual({ model: 'text-embedding-3-small', input: ['rail', 'yard'], encoding_format: 'float' });
  });

  it('lists the upstream’s models under the provider prefix', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['openai/gpt-4.1-nano', 'openai/gpt-4.1-mini', 'openai/text-embedding-3-small']));
    expect(ids.some((id) => id.startsWith('demo/'))).toBe(false);
  });
});

describe('example server without any provider key', () => {
  let server: StartedServer;
  let client: OpenAI;

  beforeAll(async () => {
    server = await startServer({ PORT: '0' }, silentLogger);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'anything', maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the demo/echo model, listed, JSON and streamed', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['demo/echo']);

    const completion = await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'Is anyone there?' }] });
    expect(completion.choices[0]!.message.content).toBe('Echo: Is anyone there?');
    expect(completion.usage!.total_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({ model: 'demo/echo', messages: [{ role: 'user', content: 'Is anyone there?' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('Echo: Is anyone there?');
    expect(usage!.total_tokens).toBe(completion.usage!.total_tokens);
  });

  it('answers NotFoundError for models it does not serve', async () => {
    const error = await client.chat.completions.create({ model: 'openai/gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ code: 'model_not_found' });
  });
});
