import type { ServerResponse } from 'node:http';
import { createGateway, type Gateway, silentLogger } from '@switchyard/core';
import { createOpenAICompatible } from '@switchyard/providers';
import { type MockUpstream, type RecordedRequest, sendJson, startMockUpstream } from '@switchyard/providers/test-utils';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { createFallbackPlugin, type FallbackOptions } from './fallback-plugin.js';

type Behaviour = (request: RecordedRequest, response: ServerResponse) => void | Promise<void>;

const completion = (model: string, content: string) => ({
  id: `chatcmpl-${model}`,
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
});

const chunk = (model: string, delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: `chatcmpl-${model}`, object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const ok: (content: string) => Behaviour = (content) => (request, response) => {
  const model = (request.json as { model: string }).model;
  if ((request.json as { stream?: boolean }).stream) {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(chunk(model, { role: 'assistant', content: '' }));
    response.write(chunk(model, { content }));
    response.write(chunk(model, {}, 'stop'));
    response.end('data: [DONE]\n\n');
    return;
  }
  sendJson(response, 200, completion(model, content));
};
const fail = (status: number, headers: Record<string, string> = {}): Behaviour => (_request, response) =>
  sendJson(response, status, { error: { message: `failure ${status}`, type: 'server_error', code: null, param: null } }, headers);

/** A mock provider that plays its behaviours in order, repeating the last one. */
async function mockProvider(behaviours: Behaviour[]): Promise<MockUpstream> {
  let index = 0;
  return startMockUpstream(async (request, response) => {
    const behaviour = behaviours[Math.min(index++, behaviours.length - 1)]!;
    await behaviour(request, response);
  });
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.map((close) => close()));
  cleanup = [];
});

async function setup(alpha: Behaviour[], beta: Behaviour[], options: FallbackOptions) {
  const alphaUpstream = await mockProvider(alpha);
  const betaUpstream = await mockProvider(beta);
  const plugin = createFallbackPlugin({ wait: async () => {}, ...options });
  const gateway: Gateway = createGateway({
    providers: [
      createOpenAICompatible({ id: 'alpha', baseURL: `${alphaUpstream.url}/v1`, apiKey: 'a', firstByteTimeoutMs: 2_000 }),
      createOpenAICompatible({ id: 'beta', baseURL: `${betaUpstream.url}/v1`, apiKey: 'b' }),
    ],
    plugins: [plugin],
    logger: silentLogger,
  });
  const { url } = await gateway.listen(0);
  cleanup.push(() => gateway.close(), alphaUpstream.close, betaUpstream.close);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { client, alphaUpstream, betaUpstream, plugin, url };
}

const group = { smart: { strategy: 'ordered' as const, targets: [{ model: 'alpha/model-a' }, { model: 'beta/model-b' }] } };
const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('fallback plugin through the gateway', () => {
  it('retries a 429 on the same target, honouring retry-after', async () => {
    const waits: number[] = [];
    const { client, alphaUpstream } = await setup([fail(429, { 'retry-after-ms': '120' }), ok('second try')], [ok('beta')], {
      groups: group,
      wait: async (milliseconds) => void waits.push(milliseconds),
    });
    const { data, response } = await client.chat.completions.create({ model: 'smart', ...ask }).withResponse();
    expect(data.choices[0]!.message.content).toBe('second try');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    expect(response.headers.get('x-switchyard-model')).toBe('alpha/model-a');
    expect(alphaUpstream.requests).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(120);
  });

  it('falls back to the next target on 500s and reports the model that served', async () => {
    const { client, alphaUpstream, betaUpstream } = await setup([fail(500)], [ok('from beta')], { groups: group });
    const { data, response } = await client.chat.completions.create({ model: 'smart', ...ask }).withResponse();
    expect(data.choices[0]!.message.content).toBe('from beta');
    expect(data.model).toBe('model-b');
    expect(response.headers.get('x-switchyard-provider')).toBe('beta');
    expect(response.headers.get('x-switchyard-model')).toBe('beta/model-b');
    expect(response.headers.get('x-switchyard-attempts')).toBe('3');
    expect(alphaUpstream.requests).toHaveLength(2);
    expect(betaUpstream.requests[0]!.json).toMatchObject({ model: 'model-b' });
  });

  it('treats 529 overloaded as retryable', async () => {
    const { client } = await setup([fail(529), fail(529)], [ok('beta took it')], { groups: group });
    const data = await client.chat.completions.create({ model: 'smart', ...ask });
    expect(data.choices[0]!.message.content).toBe('beta took it');
  });

  it('does not retry or fall back on a 400', async () => {
    const { client, alphaUpstream, betaUpstream } = await setup([fail(400)], [ok('beta')], { groups: group });
    await expect(client.chat.completions.create({ model: 'smart', ...ask })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect(alphaUpstream.requests).toHaveLength(1);
    expect(betaUpstream.requests).toHaveLength(0);
  });

  it('moves a prompt that is too long to a target with a larger context window', async () => {
    const tooLong: Behaviour = (_request, response) =>
      sendJson(response, 400, { error: { message: "This model's maximum context length is 8192 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } });
    const windows: Record<string, number> = { 'alpha/model-a': 8_192, 'beta/model-b': 200_000 };
    const { client } = await setup([tooLong], [ok('long context')], { groups: group, modelFacts: (model) => ({ contextWindow: windows[model] }) });
    const data = await client.chat.completions.create({ model: 'smart', ...ask });
    expect(data.choices[0]!.message.content).toBe('long context');
  });

  it('times out a slow first byte and falls back', async () => {
    const slow: Behaviour = async (request, response) => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (!response.destroyed) ok('too late')(request, response);
    };
    const { client } = await setup([slow], [ok('fast beta')], { groups: group, timeouts: { firstByteMs: 100 }, retry: { attemptsPerTarget: 1 } });
    const started = Date.now();
    const data = await client.chat.completions.create({ model: 'smart', ...ask });
    expect(data.choices[0]!.message.content).toBe('fast beta');
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('with attempt timeouts, a client that goes away still closes the upstream request at once', async () => {
    const hang: Behaviour = () => new Promise(() => {});
    const { client, alphaUpstream } = await setup([hang], [ok('beta')], { groups: group, timeouts: { totalMs: 10_000, firstByteMs: 10_000 } });
    const controller = new AbortController();
    const pending = client.chat.completions.create({ model: 'smart', ...ask }, { signal: controller.signal });
    await expect.poll(() => alphaUpstream.requests.length).toBe(1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => alphaUpstream.abortedRequests.length, { timeout: 2_000 }).toBe(1);
  });

  it('falls back when the connection is reset before headers', async () => {
    const reset: Behaviour = (_request, response) => void response.socket?.destroy();
    const { client } = await setup([reset], [ok('after reset')], { groups: group });
    const data = await client.chat.completions.create({ model: 'smart', ...ask });
    expect(data.choices[0]!.message.content).toBe('after reset');
  });

  it('fails a stream over before its first content chunk', async () => {
    const dropsEarly: Behaviour = (request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('model-a', { role: 'assistant', content: '' }));
      setTimeout(() => response.socket?.destroy(), 20);
    };
    const { client } = await setup([dropsEarly], [ok('streamed by beta')], { groups: group, retry: { attemptsPerTarget: 1 } });
    const stream = await client.chat.completions.create({ model: 'smart', stream: true, ...ask });
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta?.content ?? '';
    expect(text).toBe('streamed by beta');
  });

  it('ends a stream that drops after content with an error, never a fake stop', async () => {
    const dropsLate: Behaviour = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(chunk('model-a', { role: 'assistant', content: '' }));
      response.write(chunk('model-a', { content: 'partial' }));
      setTimeout(() => response.socket?.destroy(), 20);
    };
    const { client, betaUpstream } = await setup([dropsLate], [ok('beta')], { groups: group });
    const stream = await client.chat.completions.create({ model: 'smart', stream: true, ...ask });
    let text = '';
    const finishReasons: unknown[] = [];
    await expect(
      (async () => {
        for await (const part of stream) {
          text += part.choices[0]?.delta?.content ?? '';
          if (part.choices[0]?.finish_reason) finishReasons.push(part.choices[0].finish_reason);
        }
      })(),
    ).rejects.toThrow();
    expect(text).toBe('partial');
    expect(finishReasons).toEqual([]);
    expect(betaUpstream.requests).toHaveLength(0);
  });

  it('tries a request body `models` list in order and never sends the field upstream', async () => {
    const { client, alphaUpstream, betaUpstream } = await setup([fail(503)], [ok('second in list')], { retry: { attemptsPerTarget: 1 } });
    const data = await client.chat.completions.create({ model: 'alpha/model-a', models: ['beta/model-b'], ...ask } as never);
    expect((data as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('second in list');
    expect(alphaUpstream.requests[0]!.json).not.toHaveProperty('models');
    expect(betaUpstream.requests[0]!.json).not.toHaveProperty('models');
  });

  it('answers 404 for an unknown model in `models`', async () => {
    const { client } = await setup([ok('a')], [ok('b')], {});
    const error = await client.chat.completions.create({ model: 'alpha/model-a', models: ['nowhere/model'], ...ask } as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('models[0]');
  });

  it('routes by header rule and by metadata', async () => {
    const { client, betaUpstream } = await setup([ok('alpha')], [ok('beta')], {
      groups: { summaries: { targets: [{ model: 'beta/summarizer' }] }, ...group },
      routes: [
        { group: 'summaries', match: { headers: { 'x-switchyard-task': 'summary' } } },
        { group: 'summaries', match: { metadata: { task: 'summary' } } },
      ],
    });
    const byHeader = await client.chat.completions.create({ model: 'anything', ...ask }, { headers: { 'x-switchyard-task': 'summary' } });
    expect(byHeader.choices[0]!.message.content).toBe('beta');
    const byMetadata = await client.chat.completions.create({ model: 'anything', metadata: { task: 'summary' }, ...ask });
    expect(byMetadata.choices[0]!.message.content).toBe('beta');
    expect(betaUpstream.requests.map((request) => (request.json as { model: string }).model)).toEqual(['summarizer', 'summarizer']);
  });

  it('applies per-target parameter overrides', async () => {
    const { client, alphaUpstream } = await setup([ok('a')], [ok('b')], {
      groups: { tuned: { targets: [{ model: 'alpha/model-a', params: { temperature: 0.1 } }] } },
    });
    await client.chat.completions.create({ model: 'tuned', temperature: 1.5, ...ask });
    expect(alphaUpstream.requests[0]!.json).toMatchObject({ temperature: 0.1 });
  });

  it('opens the breaker of a failing target and skips it while the other is healthy, then probes after the cool-down', async () => {
    let time = 0;
    const { client, alphaUpstream } = await setup([fail(500)], [ok('beta')], {
      groups: group,
      retry: { attemptsPerTarget: 1 },
      breaker: { consecutiveFailures: 2, cooldownMs: 10_000 },
      now: () => time,
    });
    for (let index = 0; index < 4; index++) await client.chat.completions.create({ model: 'smart', ...ask });
    expect(alphaUpstream.requests).toHaveLength(2);
    time = 10_000;
    await client.chat.completions.create({ model: 'smart', ...ask });
    // One half-open probe, which fails and opens the breaker again.
    expect(alphaUpstream.requests).toHaveLength(3);
    await client.chat.completions.create({ model: 'smart', ...ask });
    expect(alphaUpstream.requests).toHaveLength(3);
  });

  it('answers 503 when every target is open', async () => {
    const { client } = await setup([fail(500)], [fail(500)], { groups: group, retry: { attemptsPerTarget: 1 }, breaker: { consecutiveFailures: 1 } });
    await expect(client.chat.completions.create({ model: 'smart', ...ask })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    const error = await client.chat.completions.create({ model: 'smart', ...ask }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('circuit_open');
  });

  it('least-busy sends a new request away from a target with a request in flight', async () => {
    let releaseAlpha: () => void = () => {};
    const heldAlpha: Behaviour = (request, response) =>
      new Promise<void>((resolve) => {
        releaseAlpha = () => {
          ok('alpha')(request, response);
          resolve();
        };
      });
    const { client, betaUpstream } = await setup([heldAlpha], [ok('beta')], {
      groups: { pool: { strategy: 'least-busy', targets: [{ model: 'alpha/model-a' }, { model: 'beta/model-b' }] } },
    });
    const first = client.chat.completions.create({ model: 'pool', ...ask });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await client.chat.completions.create({ model: 'pool', ...ask });
    expect(second.choices[0]!.message.content).toBe('beta');
    expect(betaUpstream.requests).toHaveLength(1);
    releaseAlpha();
    expect((await first).choices[0]!.message.content).toBe('alpha');
  });

  it('latency strategy prefers the faster target once both are measured', async () => {
    const slow: Behaviour = async (request, response) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      ok('alpha')(request, response);
    };
    const { client, plugin } = await setup([slow], [ok('beta')], {
      groups: { pool: { strategy: 'latency', targets: [{ model: 'alpha/model-a' }, { model: 'beta/model-b' }] } },
    });
    await client.chat.completions.create({ model: 'pool', ...ask });
    await client.chat.completions.create({ model: 'pool', ...ask });
    expect(plugin.health.get('alpha/model-a').latencyMs).toBeGreaterThan(plugin.health.get('beta/model-b').latencyMs!);
    for (let index = 0; index < 3; index++) {
      const data = await client.chat.completions.create({ model: 'pool', ...ask });
      expect(data.choices[0]!.message.content).toBe('beta');
    }
  });

  it('lists group names as models', async () => {
    const { client } = await setup([ok('a')], [ok('b')], { groups: group });
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toContain('smart');
  });

  it('refuses a group whose target no provider serves', () => {
    const plugin = createFallbackPlugin({ groups: { broken: { targets: [{ model: 'nowhere/x' }] } } });
    const gateway = createGateway({ providers: [], plugins: [plugin], logger: silentLogger });
    return expect(gateway.ready).rejects.toThrow(/groups\.broken\.targets\[0\]\.model/);
  });
});
