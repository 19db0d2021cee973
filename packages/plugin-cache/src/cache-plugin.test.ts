import { randomUUID } from 'node:crypto';
import { createGateway, definePlugin, type Gateway, silentLogger } from '@switchyard/core';
import { createOpenAICompatible } from '@switchyard/providers';
import { type MockUpstream, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheOptions, createCachePlugin } from './cache-plugin.js';

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** An OpenAI-speaking upstream that answers with a numbered reply, so a cached answer is recognisable. */
async function countingUpstream(options: { delayMs?: number; fail?: () => boolean; dropStream?: boolean } = {}): Promise<MockUpstream & { calls: () => number }> {
  let calls = 0;
  const upstream = await startMockUpstream(async (request, response) => {
    calls += 1;
    const number = calls;
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    if (options.fail?.()) {
      sendJson(response, 500, { error: { message: 'upstream failed', type: 'server_error', code: null, param: null } });
      return;
    }
    const body = request.json as { model: string; stream?: boolean };
    const content = `answer number ${number}`;
    if (body.stream) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const base = { id: `chatcmpl-${number}`, object: 'chat.completion.chunk', created: 1, model: body.model };
      const send = (payload: unknown) => response.write(`data: ${JSON.stringify(payload)}\n\n`);
      send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
      for (const word of content.split(' ')) {
        send({ ...base, choices: [{ index: 0, delta: { content: `${word} ` }, finish_reason: null }] });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (options.dropStream) {
        response.socket?.destroy();
        return;
      }
      send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      send({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } });
      response.end('data: [DONE]\n\n');
      return;
    }
    sendJson(response, 200, {
      id: `chatcmpl-${number}`,
      object: 'chat.completion',
      created: 1,
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });
  });
  cleanup.push(upstream.close);
  return Object.assign(upstream, { calls: () => calls });
}

/** Plays the billing plugin's part: a key record from a test header. */
const fakeKeys = definePlugin({
  name: 'fake-keys',
  onRequest(context) {
    const header = context.headers['x-test-key'];
    if (typeof header === 'string') (context.state as Record<string, unknown>).virtualKey = JSON.parse(header);
  },
});

async function gatewayWith(upstreamUrl: string, options: CacheOptions): Promise<{ client: OpenAI; gateway: Gateway }> {
  const gateway = createGateway({
    providers: [createOpenAICompatible({ id: 'openai', baseURL: `${upstreamUrl}/v1`, apiKey: 'test' })],
    plugins: [fakeKeys, createCachePlugin(options)],
    logger: silentLogger,
  });
  const { url } = await gateway.listen(0);
  cleanup.push(() => gateway.close());
  return { client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 }), gateway };
}

const request = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'openai/gpt-4o-mini',
  messages: [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content },
  ],
  ...extra,
});

async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

describe('exact cache', () => {
  it('misses, then hits; user, metadata and stream do not change the key', async () => {
    const upstream = await countingUpstream();
    const { client } = await gatewayWith(upstream.url, {});
    const first = await client.chat.completions.create(request('Hello')).withResponse();
    expect(first.response.headers.get('x-switchyard-cache')).toBe('miss');
    const second = await client.chat.completions.create(request('Hello', { user: 'someone', metadata: { trace: 'x' } })).withResponse();
    expect(second.response.headers.get('x-switchyard-cache')).toBe('hit');
    expect(second.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    expect(upstream.calls()).toBe(1);
    // Any parameter that changes the answer changes the key.
    await client.chat.completions.create(request('Hello', { temperature: 0.3 }));
    await client.chat.completions.create(request('Hello', { some_new_parameter: true }));
    expect(upstream.calls()).toBe(3);
  });

  it('replays a hit on a stream request with the same content and finish reason', async () => {
    const upstream = await countingUpstream();
    const { client } = await gatewayWith(upstream.url, {});
    const original = await collect(await client.chat.completions.create(request('Stream me', { stream: true })));
    const { data: stream, response } = await client.chat.completions.create(request('Stream me', { stream: true })).withResponse();
    expect(response.headers.get('x-switchyard-cache')).toBe('hit');
    expect(await collect(stream)).toEqual(original);
    // One answer serves both shapes: the JSON request hits the entry the stream stored.
    const json = await client.chat.completions.create(request('Stream me')).withResponse();
    expect(json.response.headers.get('x-switchyard-cache')).toBe('hit');
    expect(json.data.choices[0]!.message.content).toBe(original.text);
    expect(upstream.calls()).toBe(1);
  });

  it('honours no-cache, no-store and x-switchyard-cache-ttl', async () => {
    const upstream = await countingUpstream();
    const { client } = await gatewayWith(upstream.url, {});
    const noStore = await client.chat.completions.create(request('A'), { headers: { 'cache-control': 'no-store' } }).withResponse();
    expect(noStore.response.headers.get('x-switchyard-cache')).toBe('miss');
    expect((await client.chat.completions.create(request('A')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('miss');
    const bypass = await client.chat.completions.create(request('A'), { headers: { 'cache-control': 'no-cache' } }).withResponse();
    expect(bypass.response.headers.get('x-switchyard-cache')).toBe('bypass');
    expect(upstream.calls()).toBe(3);

    await client.chat.completions.create(request('short-lived'), { headers: { 'x-switchyard-cache-ttl': '1' } });
    expect((await client.chat.completions.create(request('short-lived')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('hit');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await client.chat.completions.create(request('short-lived')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('miss');
    await expect(client.chat.completions.create(request('bad'), { headers: { 'x-switchyard-cache-ttl': 'soon' } })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('never stores errors or streams cut short', async () => {
    let failing = true;
    const upstream = await countingUpstream({ fail: () => failing });
    const { client } = await gatewayWith(upstream.url, {});
    await expect(client.chat.completions.create(request('E'))).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    failing = false;
    expect((await client.chat.completions.create(request('E')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('miss');

    const dropping = await countingUpstream({ dropStream: true });
    const { client: second } = await gatewayWith(dropping.url, {});
    await expect(collect(await second.chat.completions.create(request('cut', { stream: true })))).rejects.toThrow();
    await expect(collect(await second.chat.completions.create(request('cut', { stream: true })))).rejects.toThrow();
    expect(dropping.calls()).toBe(2);
  });

  it('keeps tenants apart and can be switched off per key', async () => {
    const upstream = await countingUpstream();
    const { client } = await gatewayWith(upstream.url, {});
    const as = (id: string, metadata: Record<string, unknown> = {}) => ({ headers: { 'x-test-key': JSON.stringify({ id, metadata }) } });
    await client.chat.completions.create(request('tenant'), as('a'));
    expect((await client.chat.completions.create(request('tenant'), as('b')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('miss');
    expect((await client.chat.completions.create(request('tenant'), as('a')).withResponse()).response.headers.get('x-switchyard-cache')).toBe('hit');
    expect((await client.chat.completions.create(request('tenant'), as('a', { cache: false })).withResponse()).response.headers.get('x-switchyard-cache')).toBe('bypass');
    expect(upstream.calls()).toBe(3);
  });
});

describe('request coalescing', () => {
  it('ten identical concurrent JSON requests make one upstream call', async () => {
    const upstream = await countingUpstream({ delayMs: 200 });
    const { client } = await gatewayWith(upstream.url, {});
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.chat.completions.create(request('together'))));
    expect(upstream.calls()).toBe(1);
    expect(new Set(answers.map((answer) => answer.choices[0]!.message.content)).size).toBe(1);
  });

  it('ten identical concurrent streams make one upstream call and each gets the whole stream', async () => {
    const upstream = await countingUpstream({ delayMs: 100 });
    const { client } = await gatewayWith(upstream.url, {});
    const results = await Promise.all(Array.from({ length: 10 }, async () => collect(await client.chat.completions.create(request('stream together', { stream: true })))));
    expect(upstream.calls()).toBe(1);
    for (const result of results) expect(result).toEqual({ text: 'answer number 1 ', finish: 'stop' });
  });

  it('keeps the shared call going when one of its clients disconnects', async () => {
    const upstream = await countingUpstream({ delayMs: 150 });
    const { client } = await gatewayWith(upstream.url, {});
    const controller = new AbortController();
    const leaving = client.chat.completions.create(request('leave early'), { signal: controller.signal }).catch(() => 'aborted');
    const staying = client.chat.completions.create(request('leave early'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect(await leaving).toBe('aborted');
    expect((await staying).choices[0]!.message.content).toBe('answer number 1');
    expect(upstream.calls()).toBe(1);
  });
});

describe('semantic cache', () => {
  it('serves a paraphrase, but never across tenants or with a changed system prompt', async () => {
    const upstream = await countingUpstream();
    const { client } = await gatewayWith(upstream.url, { semantic: { embedder: 'local' } });
    const tenant = (id: string) => ({ headers: { 'x-test-key': JSON.stringify({ id }) } });
    const original = await client.chat.completions.create(request('What is the capital of France?'), tenant('a'));
    const paraphrase = await client.chat.completions.create(request('Which city is the capital of France?'), tenant('a')).withResponse();
    expect(paraphrase.response.headers.get('x-switchyard-cache')).toBe('semantic-hit');
    expect(Number(paraphrase.response.headers.get('x-switchyard-cache-similarity'))).toBeGreaterThanOrEqual(0.8);
    expect(paraphrase.data.choices[0]!.message.content).toBe(original.choices[0]!.message.content);
    expect(upstream.calls()).toBe(1);

    const otherTenant = await client.chat.completions.create(request('Which city is the capital of France?'), tenant('b')).withResponse();
    expect(otherTenant.response.headers.get('x-switchyard-cache')).toBe('miss');
    const otherSystem = await client.chat.completions
      .create({ ...request('Which city is the capital of France?'), messages: [{ role: 'system', content: 'You are verbose.' }, { role: 'user', content: 'Which city is the capital of France?' }] }, tenant('a'))
      .withResponse();
    expect(otherSystem.response.headers.get('x-switchyard-cache')).toBe('miss');
    const differentQuestion = await client.chat.completions.create(request('What is the capital of Germany?'), tenant('a')).withResponse();
    expect(differentQuestion.response.headers.get('x-switchyard-cache')).toBe('miss');
    expect(upstream.calls()).toBe(4);
  });
});

describe.runIf(process.env.REDIS_URL)('cache on Redis', () => {
  it('two gateway instances share exact and semantic answers', async () => {
    const upstream = await countingUpstream();
    const prefix = `switchyard-test:${randomUUID()}:`;
    const options: CacheOptions = { store: { redis: { url: process.env.REDIS_URL!, keyPrefix: prefix } }, semantic: { embedder: 'local' } };
    const { client: first } = await gatewayWith(upstream.url, options);
    const { client: second } = await gatewayWith(upstream.url, options);
    const marker = randomUUID();
    // Answers are stored after they are sent: the other instance sees them a moment later.
    const cacheHeader = async (client: OpenAI, content: string) =>
      (await client.chat.completions.create(request(content), { headers: { 'cache-control': 'no-store' } }).withResponse()).response.headers.get('x-switchyard-cache');
    await first.chat.completions.create(request(`Exact ${marker}`));
    await expect.poll(() => cacheHeader(second, `Exact ${marker}`), { timeout: 2_000, interval: 50 }).toBe('hit');

    await first.chat.completions.create(request(`What is the capital of France? ${marker}`));
    await expect.poll(() => cacheHeader(second, `Which city is the capital of France? ${marker}`), { timeout: 2_000, interval: 50 }).toBe('semantic-hit');
  });
});
