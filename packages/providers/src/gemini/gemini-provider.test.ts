import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkAggregator, type ChatCompletionChunk, type ChatResult, GatewayError, type ProviderV1 } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockHandler, type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { createGemini, encodeFloat32Base64, modelPath } from './gemini-provider.js';

const fixturesDir = join(import.meta.dirname, '__fixtures__');
const fixture = (name: string) => readFileSync(join(fixturesDir, name), 'utf8');
const validators = loadOpenAISchemaValidators();

/** Gemini's `alt=sse` framing: CRLF line ends, no terminator. */
function sseEvents(name: string): string[] {
  return fixture(name)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `data: ${line}\r\n\r\n`);
}

let upstream: MockUpstream | undefined;
let provider: ProviderV1 | undefined;

async function setup(handler: MockHandler): Promise<{ upstream: MockUpstream; provider: ProviderV1 }> {
  upstream = await startMockUpstream(handler);
  provider = createGemini({ apiKey: 'test-key', baseURL: `${upstream.url}/v1beta` });
  return { upstream, provider };
}

afterEach(async () => {
  await provider?.close?.();
  await upstream?.close();
  provider = undefined;
  upstream = undefined;
});

const callOptions = () => ({ signal: new AbortController().signal, requestId: 'req-1' });

async function collect(result: ChatResult): Promise<ChatCompletionChunk[]> {
  if (result.type !== 'stream') throw new Error('expected a stream');
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of result.stream) {
    if (validators) expect(validators.chunk(chunk), JSON.stringify(chunk)).toEqual([]);
    chunks.push(chunk);
  }
  return chunks;
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a rejection');
}

describe('createGemini', () => {
  it('calls generateContent with the key header and converts the answer', async () => {
    const { upstream, provider } = await setup((_request, response) => sendJson(response, 200, JSON.parse(fixture('gemini-text.json'))));
    const result = await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'system', content: 'Brief.' }, { role: 'user', content: 'Lighthouses?' }], temperature: 0.2 }, callOptions());
    expect(result.type).toBe('response');
    if (result.type !== 'response') return;
    expect(result.response.choices[0]!.message.content).toContain('Fresnel');
    if (validators) expect(validators.response(result.response)).toEqual([]);
    const sent = upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe('test-key');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Lighthouses?' }] }],
      systemInstruction: { parts: [{ text: 'Brief.' }] },
      generationConfig: { temperature: 0.2 },
    });
  });

  it('streams from streamGenerateContent?alt=sse and ends with a usage chunk', async () => {
    const { upstream, provider } = await setup((_request, response) => writeEventStream(response, sseEvents('gemini-text.chunks.txt')));
    const chunks = await collect(await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions()));
    expect(upstream.requests[0]!.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Lighthouses use Fresnel lenses to focus a small lamp into a beam seen for miles.');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 57 } });
    expect(chunks.filter((chunk) => chunk.choices[0]?.finish_reason).map((chunk) => chunk.choices[0]!.finish_reason)).toEqual(['stop']);
  });

  it('streams each event as it arrives, without waiting for the next', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const events = sseEvents('gemini-text.chunks.txt');
    const { provider } = await setup(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(events[0]);
      await released;
      for (const event of events.slice(1)) response.write(event);
      response.end();
    });
    const result = await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions());
    if (result.type !== 'stream') throw new Error('expected a stream');
    const iterator = result.stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value.choices[0].delta.content).toBe('Lighthouses use');
    release();
    const rest: ChatCompletionChunk[] = [];
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value);
    expect(rest.at(-1)!.usage).toBeDefined();
  });

  it('closes the upstream connection when the consumer stops early', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const events = sseEvents('gemini-text.chunks.txt');
    const { upstream, provider } = await setup(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(events[0]);
      await new Promise<void>((resolve) => response.on('close', resolve));
      release();
    });
    const result = await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions());
    if (result.type !== 'stream') throw new Error('expected a stream');
    for await (const _chunk of result.stream) break;
    await released;
    expect(upstream.abortedRequests).toHaveLength(1);
  });

  it('fails a stream that ends without a finish reason', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, sseEvents('gemini-text.chunks.txt').slice(0, 2)));
    const result = await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions());
    const error = await rejection(collect(result));
    expect(error).toMatchObject({ code: 'upstream_stream_truncated', isRetryable: true });
  });

  it('reports an error event inside the stream', async () => {
    const { provider } = await setup((_request, response) =>
      writeEventStream(response, [sseEvents('gemini-text.chunks.txt')[0]!, `data: ${JSON.stringify(JSON.parse(fixture('gemini-error-503-overloaded.json')))}\r\n\r\n`]),
    );
    const result = await provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions());
    const error = await rejection(collect(result));
    expect(error).toMatchObject({ status: 503, message: 'The model is overloaded. Please try again later.', isRetryable: true });
  });

  it('fails cleanly on an event that is not JSON or not a response', async () => {
    const { provider } = await setup((request, response) => writeEventStream(response, [request.url.includes('gemini-a') ? 'data: {not json\r\n\r\n' : 'data: [1,2]\r\n\r\n']));
    for (const model of ['gemini-a', 'gemini-b']) {
      const result = await provider.chat(model, { model, messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions());
      expect(await rejection(collect(result))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
    }
  });

  it('maps a 404 sent with an event-stream content type, as streamGenerateContent does', async () => {
    const { provider } = await setup((_request, response) => {
      response.writeHead(404, { 'content-type': 'text/event-stream' });
      response.end(fixture('gemini-error-404-model.json'));
    });
    const error = await rejection(provider.chat('gemini-0.9-imaginary', { model: 'gemini-0.9-imaginary', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions()));
    expect(error).toMatchObject({ status: 404, code: 'model_not_found', provider: 'gemini' });
  });

  it('carries the RetryInfo delay of a 429', async () => {
    const { provider } = await setup((_request, response) => sendJson(response, 429, JSON.parse(fixture('gemini-error-429-retry-info.json'))));
    const error = await rejection(provider.chat('gemini-2.5-flash', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }, callOptions()));
    expect(error).toMatchObject({ status: 429, type: 'rate_limit_error', retryAfterMs: 41_700, isRetryable: true });
  });

  it('treats a 200 carrying an error body as that error, and a non-response body as malformed', async () => {
    const { provider } = await setup((request, response) => {
      if (request.url.includes('gemini-a')) sendJson(response, 200, JSON.parse(fixture('gemini-error-400-context.json')));
      else if (request.url.includes('gemini-b')) sendJson(response, 200, { candidates: 'nope' });
      else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"candidates":');
      }
    });
    const request = (model: string) => provider.chat(model, { model, messages: [{ role: 'user', content: 'x' }] }, callOptions());
    expect(await rejection(request('gemini-a'))).toMatchObject({ status: 400, code: 'context_length_exceeded' });
    expect(await rejection(request('gemini-b'))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
    expect(await rejection(request('gemini-c'))).toMatchObject({ status: 502, code: 'bad_upstream_response' });
  });

  it('refuses model names that would change the URL path, without calling upstream', async () => {
    const { upstream, provider } = await setup((_request, response) => sendJson(response, 200, {}));
    for (const model of ['../files', 'gemini-2.5-flash:generateContent?x=', 'a/b/c', '']) {
      expect(await rejection(provider.chat(model, { model, messages: [{ role: 'user', content: 'x' }] }, callOptions()))).toMatchObject({ status: 400, param: 'model' });
    }
    expect(upstream.requests).toHaveLength(0);
    expect(modelPath('tunedModels/my-model-1')).toBe('tunedModels/my-model-1');
    expect(modelPath('models/gemini-2.5-flash')).toBe('models/gemini-2.5-flash');
  });

  it('embeds one text with embedContent and several with batchEmbedContents', async () => {
    const { upstream, provider } = await setup((request, response) => {
      const body = request.json as { requests?: unknown[] };
      if (request.url.endsWith(':embedContent')) sendJson(response, 200, { embedding: { values: [0.5, -0.25] } });
      else sendJson(response, 200, { embeddings: body.requests!.map((_item, index) => ({ values: [index, 1.5] })) });
    });
    const single = await provider.embeddings!('gemini-embedding-001', { model: 'gemini-embedding-001', input: 'tide', dimensions: 2 }, callOptions());
    expect(single).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }], model: 'gemini-embedding-001', usage: { prompt_tokens: 0, total_tokens: 0 } });
    expect(upstream.requests[0]!.url).toBe('/v1beta/models/gemini-embedding-001:embedContent');
    expect(upstream.requests[0]!.json).toEqual({ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'tide' }] }, outputDimensionality: 2 });

    const batch = await provider.embeddings!('gemini-embedding-001', { model: 'gemini-embedding-001', input: ['a', 'b'], encoding_format: 'base64' }, callOptions());
    expect(upstream.requests[1]!.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(upstream.requests[1]!.json).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] } },
      ],
    });
    expect(batch.data.map((item) => item.embedding)).toEqual([encodeFloat32Base64([0, 1.5]), encodeFloat32Base64([1, 1.5])]);
    const decoded = Buffer.from(batch.data[1]!.embedding as string, 'base64');
    expect([decoded.readFloatLE(0), decoded.readFloatLE(4)]).toEqual([1, 1.5]);
  });

  it('refuses token-array embedding input and a batch answer of the wrong length', async () => {
    const { provider } = await setup((_request, response) => sendJson(response, 200, { embeddings: [{ values: [1] }] }));
    expect(await rejection(provider.embeddings!('gemini-embedding-001', { model: 'm', input: [1, 2, 3] }, callOptions()))).toMatchObject({ status: 400, param: 'input' });
    expect(await rejection(provider.embeddings!('gemini-embedding-001', { model: 'm', input: ['a', 'b'] }, callOptions()))).toMatchObject({ code: 'bad_upstream_response' });
  });

  it('lists models across pages, without the models/ prefix and without models chat cannot serve', async () => {
    const { upstream, provider } = await setup((request, response) => {
      if (!request.url.includes('pageToken')) {
        sendJson(response, 200, {
          models: [
            { name: 'models/gemini-2.5-flash', inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, supportedGenerationMethods: ['generateContent', 'countTokens'] },
            { name: 'models/imagen-4.0-generate-001', supportedGenerationMethods: ['predict'] },
          ],
          nextPageToken: 'page 2',
        });
      } else sendJson(response, 200, { models: [{ name: 'models/gemini-embedding-001', supportedGenerationMethods: ['embedContent'] }] });
    });
    const models = await provider.listModels!({ signal: new AbortController().signal });
    expect(models).toEqual([
      { id: 'gemini-2.5-flash', ownedBy: 'google', contextWindow: 1_048_576, maxOutputTokens: 65_536 },
      { id: 'gemini-embedding-001', ownedBy: 'google' },
    ]);
    expect(upstream.requests.map((request) => request.url)).toEqual(['/v1beta/models?pageSize=1000', '/v1beta/models?pageSize=1000&pageToken=page%202']);
    await provider.listModels!({ signal: new AbortController().signal });
    expect(upstream.requests).toHaveLength(2);
  });

  it('aggregates a streamed tool call into what a JSON answer would hold', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, sseEvents('gemini-tool-call.chunks.txt')));
    const chunks = await collect(await provider.chat('gemini-3-pro-preview', { model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: 'x' }], stream: true }, callOptions()));
    const aggregator = new ChunkAggregator();
    for (const chunk of chunks) aggregator.add(chunk);
    const message = aggregator.result().choices[0]!.message;
    expect(message.tool_calls!.map((call) => JSON.parse(call.function.arguments))).toEqual([
      { harbor: 'Brest', day: '2025-06-01' },
      { harbor: 'Cherbourg', day: '2025-06-01' },
    ]);
    expect(new Set(message.tool_calls!.map((call) => call.id)).size).toBe(2);
  });
});
