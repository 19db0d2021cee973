import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { type ChatCompletionChunk, type ChatCompletionRequest, type ChatResult, GatewayError } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockHandler, type MockUpstream, sendJson, startMockUpstream, writeEventStream } from '../test-utils/mock-upstream.js';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { createAnthropic, defaultAnthropicVersion } from './anthropic-provider.js';
import { convertToAnthropicRequest } from './convert-to-anthropic-messages.js';
import { chunkLines, collect, frameAnthropicEvents, readFixture } from './__fixtures__/anthropic-wire.js';

const validators = loadOpenAISchemaValidators();
const model = 'claude-sonnet-4-5';
let upstream: MockUpstream | undefined;
let closeProvider: (() => Promise<void>) | undefined;

afterEach(async () => {
  await closeProvider?.();
  await upstream?.close();
  upstream = undefined;
  closeProvider = undefined;
});

async function setup(handler: MockHandler, options: { path?: string; version?: string; headers?: Record<string, string>; defaultMaxTokens?: number } = {}) {
  upstream = await startMockUpstream(handler);
  const provider = createAnthropic({
    apiKey: 'sk-ant-test',
    baseURL: `${upstream.url}${options.path ?? '/v1'}`,
    version: options.version,
    headers: options.headers,
    defaultMaxTokens: options.defaultMaxTokens,
  });
  closeProvider = () => provider.close!();
  return { provider, upstream };
}

const callOptions = () => ({ signal: new AbortController().signal, requestId: 'req-test-1' });

function chatRequest(overrides: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: `anthropic/${model}`, messages: [{ role: 'user', content: 'Which track for Lyon?' }], ...overrides };
}

async function streamChunks(result: ChatResult): Promise<ChatCompletionChunk[]> {
  expect(result.type).toBe('stream');
  const chunks = await collect((result as Extract<ChatResult, { type: 'stream' }>).stream);
  for (const chunk of chunks) expect(validators?.chunk(chunk) ?? []).toEqual([]);
  return chunks;
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    expect(GatewayError.isInstance(error)).toBe(true);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

const eventStream = (name: string) => frameAnthropicEvents(chunkLines(readFixture(name)));

describe('createAnthropic', () => {
  it('serves claude- models under the anthropic id', () => {
    const provider = createAnthropic({ apiKey: 'k' });
    expect(provider.id).toBe('anthropic');
    expect(provider.specificationVersion).toBe('v1');
    expect(provider.modelPrefixes).toEqual(['claude-']);
    return provider.close!();
  });

  it('posts the converted request to /messages with x-api-key and anthropic-version, and converts the JSON answer', async () => {
    const { provider, upstream } = await setup((_request, response) => sendJson(response, 200, JSON.parse(readFixture('text.json'))));
    const request = chatRequest({ temperature: 0.2, user: 'rider-7' });
    const result = await provider.chat(model, request, callOptions());
    expect(upstream.requests).toHaveLength(1);
    const sent = upstream.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe('sk-ant-test');
    expect(sent.headers['anthropic-version']).toBe(defaultAnthropicVersion);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toEqual(convertToAnthropicRequest(model, request));
    expect(sent.json).toMatchObject({ model, max_tokens: 4096, temperature: 0.2, metadata: { user_id: 'rider-7' } });
    expect(result.type).toBe('response');
    const response = (result as Extract<ChatResult, { type: 'response' }>).response;
    expect(validators?.response(response) ?? []).toEqual([]);
    expect(response.choices[0]!.message.content).toBe('Rails meet at the switchyard.');
    expect(response.usage).toMatchObject({ prompt_tokens: 1213, completion_tokens: 8, prompt_tokens_details: { cached_tokens: 1200 } });
  });

  it('keeps a base URL path prefix and sends the configured version, headers and default max tokens', async () => {
    const { provider, upstream } = await setup((_request, response) => sendJson(response, 200, JSON.parse(readFixture('text.json'))), {
      path: '/proxy/anthropic/v1/',
      version: '2099-01-01',
      headers: { 'anthropic-beta': 'files-api-2025-04-14' },
      defaultMaxTokens: 512,
    });
    await provider.chat(model, chatRequest(), callOptions());
    const sent = upstream.requests[0]!;
    expect(sent.url).toBe('/proxy/anthropic/v1/messages');
    expect(sent.headers['anthropic-version']).toBe('2099-01-01');
    expect(sent.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    expect((sent.json as { max_tokens: number }).max_tokens).toBe(512);
  });

  it('streams: sends stream true and converts the event stream, even split at arbitrary byte boundaries', async () => {
    const wire = Buffer.from(eventStream('parallel-tool-calls.chunks.txt').join(''));
    const { provider, upstream } = await setup(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // 7-byte writes split frames, lines and JSON strings mid-way.
      for (let offset = 0; offset < wire.length; offset += 7) response.write(wire.subarray(offset, offset + 7));
      response.end();
    });
    const chunks = await streamChunks(await provider.chat(model, chatRequest({ stream: true, tools: [{ type: 'function', function: { name: 'departure_board' } }] }), callOptions()));
    const sent = upstream.requests[0]!;
    expect(sent.headers.accept).toBe('text/event-stream');
    expect((sent.json as { stream: boolean }).stream).toBe(true);
    const toolArguments = chunks
      .flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.tool_calls ?? []))
      .filter((call) => call.index === 0)
      .map((call) => call.function?.arguments ?? '')
      .join('');
    expect(toolArguments).toBe('{"station": "Lyon Part-Dieu", "limit": 3}');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 512, completion_tokens: 96 } });
  });

  it('streams multi-byte text intact when a character is split between two network chunks', async () => {
    const wire = Buffer.from(eventStream('text.chunks.txt').join(''));
    const splitAt = wire.indexOf(Buffer.from('ü')) + 1;
    const { provider } = await setup(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(wire.subarray(0, splitAt));
      await new Promise((resolve) => setImmediate(resolve));
      response.end(wire.subarray(splitAt));
    });
    const chunks = await streamChunks(await provider.chat(model, chatRequest({ stream: true }), callOptions()));
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('Rails meet at the switchyard, ünïcode and all.');
  });

  it('ignores anything an upstream sends after message_stop', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, [...eventStream('text.chunks.txt'), ...eventStream('refusal.chunks.txt')]));
    const chunks = await streamChunks(await provider.chat(model, chatRequest({ stream: true }), callOptions()));
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === 'content_filter')).toBe(false);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(14);
  });

  it('turns a mid-stream error event into a retryable 503 after the chunks already sent', async () => {
    const { provider } = await setup((_request, response) => writeEventStream(response, [readFixture('errors/midstream-overloaded_error.sse')]));
    const result = await provider.chat(model, chatRequest({ stream: true }), callOptions());
    const received: ChatCompletionChunk[] = [];
    const error = await rejection(
      (async () => {
        for await (const chunk of (result as Extract<ChatResult, { type: 'stream' }>).stream) received.push(chunk);
      })(),
    );
    expect(received.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('The first half');
    expect(error.toJSON()).toEqual({ error: { message: 'Overloaded', type: 'service_unavailable', param: null, code: 'overloaded' } });
    expect(error.status).toBe(503);
    expect(error.isRetryable).toBe(true);
  });

  it('maps 429 with retry-after, and 529 overloaded to a retryable 503', async () => {
    const { provider } = await setup((request, response) => {
      if ((request.json as { model: string }).model === 'claude-busy') {
        sendJson(response, 529, JSON.parse(readFixture('errors/529-overloaded_error.json')));
      } else {
        sendJson(response, 429, JSON.parse(readFixture('errors/429-rate_limit_error.json')), { 'retry-after': '12' });
      }
    });
    const rateLimited = await rejection(provider.chat(model, chatRequest(), callOptions()));
    expect([rateLimited.status, rateLimited.type, rateLimited.code, rateLimited.retryAfterMs, rateLimited.isRetryable]).toEqual([
      429,
      'rate_limit_error',
      'rate_limit_exceeded',
      12_000,
      true,
    ]);
    const overloaded = await rejection(provider.chat('claude-busy', chatRequest({ stream: true }), callOptions()));
    expect([overloaded.status, overloaded.type, overloaded.isRetryable, overloaded.upstreamStatus]).toEqual([503, 'service_unavailable', true, 529]);
  });

  it('rejects bad input with a 400 before calling upstream', async () => {
    const { provider, upstream } = await setup((_request, response) => sendJson(response, 200, {}));
    const error = await rejection(provider.chat(model, chatRequest({ n: 3 }), callOptions()));
    expect([error.status, error.param]).toEqual([400, 'n']);
    expect(upstream.requests).toHaveLength(0);
  });

  it('reports bodies that are not what the API promises as retryable 502s', async () => {
    const { provider } = await setup((request, response) => {
      const stream = (request.json as { stream?: boolean }).stream === true;
      if (stream) sendJson(response, 200, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
      else sendJson(response, 200, { unexpected: true });
    });
    const notMessage = await rejection(provider.chat(model, chatRequest(), callOptions()));
    expect([notMessage.status, notMessage.code, notMessage.isRetryable]).toEqual([502, 'bad_upstream_response', true]);
    const jsonInsteadOfStream = await rejection(provider.chat(model, chatRequest({ stream: true }), callOptions()));
    expect([jsonInsteadOfStream.status, jsonInsteadOfStream.message]).toEqual([502, 'Internal server error']);
  });

  it('fails a spliced stream cleanly', async () => {
    const start = '{"type":"message_start","message":{"id":"m1","model":"x","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}';
    const { provider } = await setup((_request, response) => writeEventStream(response, frameAnthropicEvents([start, start])));
    const result = await provider.chat(model, chatRequest({ stream: true }), callOptions());
    const error = await rejection(collect((result as Extract<ChatResult, { type: 'stream' }>).stream));
    expect([error.status, error.code]).toEqual([502, 'bad_upstream_response']);
  });

  it('closes the upstream connection when the consumer stops reading', async () => {
    let upstreamResponse: ServerResponse | undefined;
    const { provider, upstream } = await setup((_request, response) => {
      upstreamResponse = response;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // Send the start and one delta, then keep the stream open as a long generation would.
      for (const frame of eventStream('text.chunks.txt').slice(0, 4)) response.write(frame);
    });
    const result = await provider.chat(model, chatRequest({ stream: true }), callOptions());
    const iterator = (result as Extract<ChatResult, { type: 'stream' }>).stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value.choices[0].delta.role).toBe('assistant');
    expect((await iterator.next()).value.choices[0].delta.content).toBe('Rails');
    const closed = once(upstreamResponse!, 'close');
    await iterator.return!();
    await closed;
    expect(upstream.abortedRequests).toHaveLength(1);
  });

  it('reports an unreachable upstream as a retryable 502', async () => {
    const { provider, upstream } = await setup(() => {});
    await upstream.close();
    const error = await rejection(provider.chat(model, chatRequest(), callOptions()));
    expect([error.status, error.code, error.isRetryable]).toEqual([502, 'upstream_unreachable', true]);
  });

  it('lists models across pages', async () => {
    const { provider, upstream } = await setup((request, response) => {
      if (request.url.includes('after_id=claude-b')) {
        sendJson(response, 200, { data: [{ type: 'model', id: 'claude-c', display_name: 'C', created_at: '2025-02-01T00:00:00Z' }], has_more: false, first_id: 'claude-c', last_id: 'claude-c' });
      } else {
        sendJson(response, 200, {
          data: [
            { type: 'model', id: 'claude-a', display_name: 'A', created_at: '2025-01-01T00:00:00Z' },
            { type: 'model', id: 'claude-b', display_name: 'B', created_at: 'not a date' },
          ],
          has_more: true,
          first_id: 'claude-a',
          last_id: 'claude-b',
        });
      }
    });
    const models = await provider.listModels!({ signal: new AbortController().signal });
    expect(models).toEqual([
      { id: 'claude-a', created: 1735689600, ownedBy: 'anthropic' },
      { id: 'claude-b', created: undefined, ownedBy: 'anthropic' },
      { id: 'claude-c', created: 1738368000, ownedBy: 'anthropic' },
    ]);
    expect(upstream.requests.map((request) => request.url)).toEqual(['/v1/models?limit=1000', '/v1/models?limit=1000&after_id=claude-b']);
    expect(upstream.requests[0]!.headers['x-api-key']).toBe('sk-ant-test');
    // Cached: a second listing asks nothing.
    await provider.listModels!({ signal: new AbortController().signal });
    expect(upstream.requests).toHaveLength(2);
  });
});
