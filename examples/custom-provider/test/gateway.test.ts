import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { loadOpenAISchemaValidators, type MockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTextGen } from '../src/index.js';
import { mockApiKey, startTextGenMock } from './textgen-mock.js';

const validators = loadOpenAISchemaValidators();

describe('a gateway composed with the TextGen provider', () => {
  let upstream: MockUpstream;
  let gateway: Gateway;
  let baseURL: string;
  let client: OpenAI;

  beforeAll(async () => {
    upstream = await startTextGenMock();
    gateway = createGateway({
      providers: [createTextGen({ baseURL: `${upstream.url}/v1`, apiKey: mockApiKey, modelPrefixes: ['tg-'] })],
      aliases: { writer: 'textgen/tg-large' },
      logger: silentLogger,
    });
    ({ url: baseURL } = await gateway.listen(0));
    client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const lastSent = () => upstream.requests.at(-1)!;

  it('answers a chat completion from the official SDK', async () => {
    const completion = await client.chat.completions.create({
      model: 'textgen/tg-small',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'ping the yard' },
      ],
      max_tokens: 50,
      temperature: 0.3,
    });
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'You said: ping the yard' });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.model).toBe('tg-small-0425');
    expect(completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
    expect(lastSent().url).toBe('/v1/generate');
    expect(lastSent().json).toEqual({
      model: 'tg-small',
      prompt: 'Be brief.\n\nUser: ping the yard\n\nAssistant:',
      max_new_tokens: 50,
      temperature: 0.3,
      stop: ['\n\nUser:'],
      stream: false,
    });
  });

  it('streams from the NDJSON stream, with usage when the client asks for it', async () => {
    const stream = await client.chat.completions.create({
      model: 'tg-small',
      messages: [{ role: 'user', content: 'stream these four words' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    const finishReasons: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) pieces.push(choice.delta.content);
      if (choice?.finish_reason) finishReasons.push(choice.finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(pieces).toEqual(['You ', 'said: ', 'stream ', 'these ', 'four ', 'words']);
    expect(finishReasons).toEqual(['stop']);
    expect(usage).toEqual({ prompt_tokens: 6, completion_tokens: 6, total_tokens: 12 });
    expect(lastSent().json).toMatchObject({ model: 'tg-small', stream: true });
    expect(lastSent().headers.accept).toBe('application/x-ndjson');
  });

  it('reports a spent token budget as finish_reason length, streamed or not', async () => {
    const completion = await client.chat.completions.create({ model: 'writer', messages: [{ role: 'user', content: 'a long answer please' }], max_completion_tokens: 2 });
    expect(completion.choices[0]!).toMatchObject({ message: { content: 'You said: ' }, finish_reason: 'length' });
    expect(lastSent().json).toMatchObject({ model: 'tg-large', max_new_tokens: 2 });

    const stream = await client.chat.completions.create({ model: 'writer', messages: [{ role: 'user', content: 'a long answer please' }], max_completion_tokens: 2, stream: true });
    const finishReasons: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finishReasons.push(chunk.choices[0].finish_reason);
    expect(finishReasons).toEqual(['length']);
  });

  it('refuses tools with a 400 naming the parameter, before calling the upstream', async () => {
    const before = upstream.requests.length;
    const error = await client.chat.completions
      .create({ model: 'tg-small', messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'function', function: { name: 'weather' } }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, param: 'tools', code: 'unsupported_parameter' });
    expect(upstream.requests.length).toBe(before);
  });

  it('passes an upstream overload on as a 503 with the retry hint', async () => {
    const error = await client.chat.completions.create({ model: 'tg-overloaded', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 503, message: expect.stringContaining('All generation workers are busy.'), code: 'overloaded' });
    expect((error as OpenAI.APIError).headers?.get('retry-after')).toBe('2');
  });

  it('ends a stream with an OpenAI error event when the upstream fails mid-answer', async () => {
    const stream = await client.chat.completions.create({ model: 'tg-stream-error', messages: [{ role: 'user', content: 'one two three' }], stream: true });
    const pieces: string[] = [];
    const failure = await (async () => {
      for await (const chunk of stream) pieces.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((caught: unknown) => caught);
    expect(pieces.join('')).toBe('You said: ');
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(failure).toMatchObject({ message: expect.stringContaining('The worker crashed.'), code: 'worker_failed' });
  });

  it('reports a stream cut off before `done` as an error, not as a finished answer', async () => {
    const stream = await client.chat.completions.create({ model: 'tg-cut-off', messages: [{ role: 'user', content: 'one two three' }], stream: true });
    const failure = await (async () => {
      for await (const _chunk of stream);
    })().catch((caught: unknown) => caught);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(failure).toMatchObject({ code: 'upstream_stream_truncated' });
  });

  it('answers a 502 when a stream request gets no NDJSON stream', async () => {
    const error = await client.chat.completions.create({ model: 'tg-not-ndjson', messages: [{ role: 'user', content: 'hi' }], stream: true }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ status: 502, code: 'bad_upstream_response' });
  });

  it('lists the upstream models under the provider prefix', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['textgen/tg-small', 'textgen/tg-large', 'writer']));
  });

  it('stops the upstream generation when the client disconnects', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'tg-slow', messages: [{ role: 'user', content: 'go on forever' }], stream: true },
      { signal: controller.signal },
    );
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) break;
    }
    controller.abort();
    await vi.waitFor(() => expect(upstream.abortedRequests.some((request) => (request.json as { model: string }).model === 'tg-slow')).toBe(true), {
      timeout: 5_000,
      interval: 20,
    });
  });

  it.skipIf(!validators)("emits responses and chunks that validate against OpenAI's published schemas", async () => {
    const post = (body: unknown) =>
      fetch(`${baseURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await (await post({ model: 'tg-small', messages: [{ role: 'user', content: 'validate me' }] })).json();
    expect(validators!.response(json)).toEqual([]);

    const streamed = await (await post({ model: 'tg-small', messages: [{ role: 'user', content: 'validate me' }], stream: true, stream_options: { include_usage: true } })).text();
    const events = streamed
      .split('\n\n')
      .map((event) => event.replace(/^data: /, ''))
      .filter((data) => data !== '' && data !== '[DONE]');
    expect(events.length).toBeGreaterThan(3);
    for (const data of events) expect(validators!.chunk(JSON.parse(data))).toEqual([]);

    const error = await (await post({ model: 'tg-small', messages: [{ role: 'user', content: 'x' }], n: 3 })).json();
    expect(validators!.error(error)).toEqual([]);
  });
});
