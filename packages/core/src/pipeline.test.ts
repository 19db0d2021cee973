import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ask,
  closeGateways,
  completion,
  chunk,
  type Deferred,
  deferred,
  fakeProvider,
  postJson,
  recordingLogger,
  sseChunks,
  sseData,
  startGateway,
  streamOf,
  textChunks,
  usageChunk,
} from './__fixtures__/fakes.js';
import { Cancellation } from './cancellation.js';
import type { ChatContext, RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { createGateway } from './gateway.js';
import type { ChatOutcome, ErrorDetails, ResponseOutcome, UpstreamWrapper } from './hooks.js';
import { definePlugin, type Plugin } from './plugin.js';
import type { ChatCompletion, ChatCompletionChunk } from './wire/openai-types.js';

// Plugins add their own typed namespace to the shared request state; this test file declares one too.
declare module './context.js' {
  interface RequestState {
    trail?: string[];
  }
}

afterEach(closeGateways);

const chatUrl = (url: string) => `${url}/v1/chat/completions`;

/** A plugin that records when each of its hooks runs into a shared log. */
function observer(name: string, log: string[]): Plugin {
  return definePlugin({
    name,
    onRequest: () => void log.push(`${name}.onRequest`),
    onResponse: () => void log.push(`${name}.onResponse`),
    onError: (_context, error) => void log.push(`${name}.onError ${error.status}`),
  });
}

/** Collects what onResponse and onError saw, for assertions after the request. */
function outcomes() {
  const responses: Array<{ context: RequestContext; outcome: ResponseOutcome }> = [];
  const errors: Array<{ context: RequestContext; error: GatewayError; details: ErrorDetails }> = [];
  const settled = deferred();
  const plugin = definePlugin({
    name: 'outcomes',
    onResponse: (context, outcome) => {
      responses.push({ context, outcome });
      settled.resolve();
    },
    onError: (context, error, details) => {
      errors.push({ context, error, details });
      settled.resolve();
    },
  });
  return { plugin, responses, errors, settled: settled.promise };
}

function asChat(outcome: ResponseOutcome | undefined): ChatOutcome {
  expect(outcome?.operation).toBe('chat');
  return outcome as ChatOutcome;
}

/** A plugin whose onRequest sets the headers in order, then runs `then`. */
function settingHeaders(name: string, headers: Array<[string, string]>, then?: (context: RequestContext) => void): Plugin {
  return definePlugin({
    name,
    onRequest: (context) => {
      for (const [header, value] of headers) context.setHeader(header, value);
      then?.(context);
    },
  });
}

const contentOf = (chunks: readonly ChatCompletionChunk[]) => chunks.map((item) => item.choices[0]?.delta.content ?? '').join('');

describe('hook order', () => {
  it('runs onRequest and onResponse in registration order', async () => {
    const log: string[] = [];
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [observer('a', log), observer('b', log), observer('c', log)] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(response.status).toBe(200);
    expect(log).toEqual(['a.onRequest', 'b.onRequest', 'c.onRequest', 'a.onResponse', 'b.onResponse', 'c.onResponse']);
  });

  it('runs onError in registration order when the provider fails, and no onResponse', async () => {
    const log: string[] = [];
    const provider = fakeProvider('alpha', () => {
      throw GatewayError.badGateway('upstream down', 'alpha');
    });
    const { url } = await startGateway({ providers: [provider], plugins: [observer('a', log), observer('b', log)] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(response.status).toBe(502);
    expect(log).toEqual(['a.onRequest', 'b.onRequest', 'a.onError 502', 'b.onError 502']);
  });

  it('stops at an onRequest that throws, answers its error and still runs every onError', async () => {
    const log: string[] = [];
    const auth = definePlugin({
      name: 'auth',
      onRequest: (context) => {
        log.push('auth.onRequest');
        if (context.headers.authorization !== 'Bearer good') throw GatewayError.authentication('Invalid API key.');
      },
      onError: (_context, error) => void log.push(`auth.onError ${error.status}`),
    });
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider], plugins: [auth, observer('after', log)] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect(log).toEqual(['auth.onRequest', 'auth.onError 401', 'after.onError 401']);
    expect(provider.calls).toHaveLength(0);
  });

  it('runs onRequest before model resolution: a plugin may rewrite the body, set the target and share state', async () => {
    const alpha = fakeProvider('alpha');
    const beta = fakeProvider('beta');
    const router = definePlugin({
      name: 'router',
      onRequest: (context) => {
        context.state.trail = ['router'];
        const chat = context as ChatContext;
        chat.body = { ...chat.body, temperature: 0.1 };
        if (chat.body.model === 'cheapest') context.target = context.resolveModel('beta/small');
      },
    });
    const reader = definePlugin({
      name: 'reader',
      onRequest: (context) => void context.state.trail?.push('reader'),
      onResponse: (context) => context.setHeader('x-trail', context.state.trail!.join(',')),
    });
    const { url } = await startGateway({ providers: [alpha, beta], plugins: [router, reader] });
    const response = await postJson(chatUrl(url), { model: 'cheapest', ...ask });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-trail')).toBe('router,reader');
    expect(response.headers.get('x-switchyard-model')).toBe('beta/small');
    expect(alpha.calls).toHaveLength(0);
    expect(beta.calls[0]!.modelId).toBe('small');
    expect(beta.calls[0]!.request.temperature).toBe(0.1);
  });

  it('sends the headers plugins set, the last value of a name in any case winning, on JSON answers, streams and errors', async () => {
    const headers = settingHeaders('headers', [['X-Plugin', 'first'], ['x-plugin', 'second'], ['X-Other', 'kept']], (context) => {
      if ((context as ChatContext).body.model === 'missing/m') throw new GatewayError({ message: 'No.', status: 429, type: 'rate_limit_error', code: 'limited', retryAfterMs: 1500 });
    });
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [headers] });
    for (const stream of [false, true]) {
      const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask, stream });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-plugin')).toBe('second');
      expect(response.headers.get('x-other')).toBe('kept');
      expect(response.headers.get('x-request-id')).toBeTruthy();
      expect(response.headers.get('content-type')).toContain(stream ? 'text/event-stream' : 'application/json');
      await response.text();
    }
    const refused = await postJson(chatUrl(url), { model: 'missing/m', ...ask });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-plugin')).toBe('second');
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.headers.get('retry-after-ms')).toBe('1500');
  });

  it('leaves out a header Node refuses and logs it, rather than losing the answer', async () => {
    const logger = recordingLogger();
    const broken = settingHeaders('broken', [['x-good', 'yes'], ['x-bad', 'line\r\nbreak'], ['bad name', 'x']]);
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [broken], logger });
    for (const stream of [false, true]) {
      const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask, stream });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-good')).toBe('yes');
      expect(response.headers.has('x-bad')).toBe(false);
      const text = await response.text();
      expect(stream ? contentOf(sseChunks(text)) : JSON.parse(text).choices[0].message.content).toBe('Hello from alpha');
    }
    const leftOut = logger.entries.filter((entry) => entry.message?.includes('header was left out')).map((entry) => (entry.object as { header: string }).header);
    expect(leftOut).toEqual(['x-bad', 'bad name', 'x-bad', 'bad name']);
  });

  it('runs setup once per plugin in order, with a child container and the router', async () => {
    const log: string[] = [];
    const { gateway } = await startGateway({
      providers: [fakeProvider('alpha')],
      plugins: [
        { name: 'first', setup: async ({ container }) => void log.push(`first ${container !== undefined}`) },
        { name: 'second', setup: ({ router, providers }) => void log.push(`second ${typeof router.get} ${providers.list().length}`) },
      ],
    });
    await gateway.ready;
    expect(log).toEqual(['first true', 'second function 1']);
  });

  it('rejects ready and answers 500 to every request when a plugin setup failed', async () => {
    const gateway = createGateway({
      providers: [fakeProvider('alpha')],
      plugins: [{ name: 'broken', setup: () => Promise.reject(new Error('no database')) }],
      logger: recordingLogger(),
    });
    await expect(gateway.ready).rejects.toThrow('no database');
    await expect(gateway.listen(0)).rejects.toThrow('no database');
    // Served through the request listener directly, as an application embedding the gateway would.
    const server = createServer(gateway.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await postJson(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`, { model: 'alpha/m', ...ask });
      expect(response.status).toBe(500);
      expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'internal_error' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await gateway.close();
    }
  });
});

describe('onResponse', () => {
  it('serialises the answer once: what a hook gets from responseJson is the text the client receives', async () => {
    const texts: string[] = [];
    const store = definePlugin({
      name: 'store',
      onResponse: (_context, outcome) => {
        texts.push(outcome.responseJson(), outcome.responseJson());
      },
    });
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [store] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    const body = await response.text();
    expect(texts).toHaveLength(2);
    expect(texts[0]).toBe(texts[1]);
    expect(body).toBe(texts[0]);
    expect(JSON.parse(body)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Hello from alpha' } }] });
  });
});

describe('JSON text a provider or plugin already has', () => {
  it('sends a provider\'s JSON text as it is, with or without response hooks, and hands it to responseJson', async () => {
    const response = completion('Already serialised', { model: 'm' });
    const text = `{ "spaced": true, ${JSON.stringify(response).slice(1)}`;
    const provider = fakeProvider('alpha', () => ({ type: 'response', response, json: text }));
    const bare = await startGateway({ providers: [provider] });
    expect(await (await postJson(chatUrl(bare.url), { model: 'alpha/m', ...ask })).text()).toBe(text);

    const seen: string[] = [];
    const store = definePlugin({ name: 'store', onResponse: (_context, outcome) => void seen.push(outcome.responseJson()) });
    const hooked = await startGateway({ providers: [provider], plugins: [store] });
    expect(await (await postJson(chatUrl(hooked.url), { model: 'alpha/m', ...ask })).text()).toBe(text);
    expect(seen).toEqual([text]);

    // A client asking for a stream gets one made from the response object; the text plays no part.
    const streamed = await postJson(chatUrl(bare.url), { model: 'alpha/m', ...ask, stream: true });
    expect(contentOf(sseChunks(await streamed.text()))).toBe('Already serialised');
  });

  it('sends JSON bytes as they are and decodes them only for a hook that asks for the text', async () => {
    const response = completion('Déjà servi 🚂', { model: 'm' });
    const text = JSON.stringify(response);
    // A view into a larger buffer, as an upstream read hands it over.
    const backing = Buffer.from(`xx${text}yy`);
    const bytes = backing.subarray(2, backing.length - 2);
    const provider = fakeProvider('alpha', () => ({ type: 'response', response, json: bytes }));
    const seen: string[] = [];
    const store = definePlugin({ name: 'store', onResponse: (_context, outcome) => void seen.push(outcome.responseJson()) });
    for (const plugins of [[], [store]]) {
      const { url } = await startGateway({ providers: [provider], plugins });
      const answer = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
      expect(answer.headers.get('content-length')).toBe(String(bytes.length));
      expect(await answer.text()).toBe(text);
    }
    expect(seen).toEqual([text]);
  });

  it('sends the JSON text of an early answer', async () => {
    const text = JSON.stringify(completion('From a store', { model: 'm' }), null, 1);
    const early = definePlugin({ name: 'early', onRequest: () => ({ response: JSON.parse(text), json: text }) });
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [early] });
    expect(await (await postJson(chatUrl(url), { model: 'alpha/m', ...ask })).text()).toBe(text);
  });
});

describe('onRequest short-circuit', () => {
  const cached = completion('From the cache', { model: 'm', usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } });
  const cachePlugin = (log: string[]) =>
    definePlugin({
      name: 'cache',
      onRequest: () => {
        log.push('cache.onRequest');
        return { response: cached, headers: { 'x-cache': 'hit' } };
      },
    });

  it('serves the early answer as JSON without calling later plugins or the provider', async () => {
    const log: string[] = [];
    const provider = fakeProvider('alpha');
    const seen = outcomes();
    const { url } = await startGateway({ providers: [provider], plugins: [cachePlugin(log), observer('later', log), seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache')).toBe('hit');
    expect(response.headers.get('x-switchyard-provider')).toBeNull();
    expect(await response.json()).toEqual(cached);
    expect(provider.calls).toHaveLength(0);
    expect(log).toEqual(['cache.onRequest', 'later.onResponse']);
    const { outcome } = seen.responses[0]!;
    expect(outcome).toMatchObject({ operation: 'chat', answeredBy: 'cache', streamed: false, aborted: false, target: undefined });
    expect(outcome.response).toEqual(cached);
  });

  it('replays the early answer as SSE for a stream request, usage only when asked', async () => {
    const seen = outcomes();
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [cachePlugin([]), seen.plugin] });

    const plain = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(plain.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(plain.headers.get('x-cache')).toBe('hit');
    const plainText = await plain.text();
    expect(sseData(plainText).at(-1)).toBe('[DONE]');
    const plainChunks = sseChunks(plainText);
    expect(contentOf(plainChunks)).toBe('From the cache');
    expect(plainChunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(plainChunks.some((item) => 'usage' in item)).toBe(false);

    const withUsage = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, stream_options: { include_usage: true }, ...ask });
    const usageChunks = sseChunks(await withUsage.text());
    expect(usageChunks.at(-1)).toMatchObject({ choices: [], usage: cached.usage });

    expect(seen.responses).toHaveLength(2);
    expect(seen.responses[0]!.outcome).toMatchObject({ answeredBy: 'cache', streamed: true, aborted: false, usage: cached.usage });
    expect(seen.responses[0]!.outcome.response).toEqual(cached);
  });
});

describe('wrapUpstream', () => {
  it('composes wrappers with the first registered outermost', async () => {
    const log: string[] = [];
    const wrapper = (name: string): UpstreamWrapper => (next) => async (request) => {
      log.push(`${name} before`);
      const result = await next(request);
      log.push(`${name} after`);
      return result;
    };
    const provider = fakeProvider('alpha', (modelId) => {
      log.push('provider');
      return { type: 'response', response: completion('ok', { model: modelId }) };
    });
    const { url } = await startGateway({
      providers: [provider],
      plugins: [{ name: 'outer', wrapUpstream: wrapper('outer') }, { name: 'no-wrapper' }, { name: 'inner', wrapUpstream: wrapper('inner') }],
    });
    expect((await postJson(chatUrl(url), { model: 'alpha/m', ...ask })).status).toBe(200);
    expect(log).toEqual(['outer before', 'inner before', 'provider', 'inner after', 'outer after']);
  });

  it('lets a wrapper retry with another target; headers and attempts name what happened', async () => {
    const alpha = fakeProvider('alpha', () => {
      throw new GatewayError({ message: 'overloaded', status: 503, type: 'service_unavailable', isRetryable: true, provider: 'alpha' });
    });
    const beta = fakeProvider('beta');
    const fallback = definePlugin({
      name: 'fallback',
      wrapUpstream: (next) => async (request) => {
        try {
          return await next(request);
        } catch (error) {
          if (!GatewayError.isInstance(error) || !error.isRetryable) throw error;
          return next({ ...request, target: request.context.resolveModel('beta/backup') });
        }
      },
    });
    const seen = outcomes();
    const { url } = await startGateway({ providers: [alpha, beta], plugins: [fallback, seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/primary', ...ask });
    expect(response.status).toBe(200);
    expect(((await response.json()) as ChatCompletion).choices[0]!.message.content).toBe('Hello from beta');
    expect(response.headers.get('x-switchyard-provider')).toBe('beta');
    expect(response.headers.get('x-switchyard-model')).toBe('beta/backup');
    expect(response.headers.get('x-switchyard-attempts')).toBe('2');
    const { context, outcome } = seen.responses[0]!;
    expect(context.attempts).toMatchObject([
      { provider: 'alpha', model: 'alpha/primary', status: 503, errorType: 'service_unavailable' },
      { provider: 'beta', model: 'beta/backup', status: 200 },
    ]);
    expect(outcome.target?.model).toBe('beta/backup');
    expect(outcome.answeredBy).toBe('upstream');
  });

  it('lets a wrapper stream from its retry target', async () => {
    const alpha = fakeProvider('alpha', () => {
      throw GatewayError.badGateway('down', 'alpha');
    });
    const beta = fakeProvider('beta');
    const fallback: UpstreamWrapper = (next) => (request) => next(request).catch(() => next({ ...request, target: request.context.resolveModel('beta/m') }));
    const { url } = await startGateway({ providers: [alpha, beta], plugins: [{ name: 'fallback', wrapUpstream: fallback }] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(response.headers.get('x-switchyard-provider')).toBe('beta');
    expect(contentOf(sseChunks(await response.text()))).toBe('Hello from beta');
  });
});

describe('onChunk', () => {
  it('applies replacements and drops in registration order; the aggregate reflects what was sent', async () => {
    const provider = fakeProvider('alpha', (modelId) => ({ type: 'stream', stream: streamOf(textChunks('Hello secret world', { model: modelId })) }));
    const seenByUpper: string[] = [];
    const redact = definePlugin({
      name: 'redact',
      onChunk: (item) => (item.choices[0]?.delta.content?.includes('secret') ? null : undefined),
    });
    const upper = definePlugin({
      name: 'upper',
      onChunk: (item) => {
        const content = item.choices[0]?.delta.content;
        if (typeof content === 'string') seenByUpper.push(content);
        if (!content) return undefined;
        return { ...item, choices: [{ ...item.choices[0]!, delta: { ...item.choices[0]!.delta, content: content.toUpperCase() } }] };
      },
    });
    const seen = outcomes();
    const { url } = await startGateway({ providers: [provider], plugins: [redact, upper, seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    const text = await response.text();
    expect(contentOf(sseChunks(text))).toBe('HELLO WORLD');
    expect(sseData(text).at(-1)).toBe('[DONE]');
    expect(seenByUpper).toEqual(['', 'Hello ', 'world']);
    expect(asChat(seen.responses[0]?.outcome).response.choices[0]!.message.content).toBe('HELLO WORLD');
  });
});

describe('failing hooks', () => {
  const entriesFor = (logger: ReturnType<typeof recordingLogger>, message: string) =>
    logger.entries.filter((entry) => entry.level === 'error' && entry.message === message).map((entry) => (entry.object as { plugin: string }).plugin);

  it('logs a failing onResponse and still answers, running the hooks after it', async () => {
    const logger = recordingLogger();
    const log: string[] = [];
    const broken = definePlugin({
      name: 'broken',
      onResponse: () => {
        throw new Error('metrics backend down');
      },
    });
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [broken, observer('after', log)], logger });
    const json = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(json.status).toBe(200);
    expect(((await json.json()) as ChatCompletion).choices[0]!.message.content).toBe('Hello from alpha');
    const stream = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(sseData(await stream.text()).at(-1)).toBe('[DONE]');
    expect(log.filter((entry) => entry === 'after.onResponse')).toHaveLength(2);
    expect(entriesFor(logger, 'onResponse hook failed')).toEqual(['broken', 'broken']);
  });

  it('logs a failing onError and still answers the original error', async () => {
    const logger = recordingLogger();
    const log: string[] = [];
    const broken = definePlugin({
      name: 'broken',
      onError: async () => {
        throw new Error('alerting down');
      },
    });
    const provider = fakeProvider('alpha', () => {
      throw GatewayError.rateLimited('Slow down.', 2_000);
    });
    const { url } = await startGateway({ providers: [provider], plugins: [broken, observer('after', log)], logger });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe('Slow down.');
    expect(log).toContain('after.onError 429');
    expect(entriesFor(logger, 'onError hook failed')).toEqual(['broken']);
  });

  it('keeps a chunk whose onChunk hook throws, and the stream completes', async () => {
    const logger = recordingLogger();
    const broken = definePlugin({
      name: 'broken',
      onChunk: (item) => {
        if (item.choices[0]?.delta.content === 'Hello ') throw new Error('bad filter');
      },
    });
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [broken], logger });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    const text = await response.text();
    expect(contentOf(sseChunks(text))).toBe('Hello from alpha');
    expect(sseData(text).at(-1)).toBe('[DONE]');
    expect(entriesFor(logger, 'onChunk hook failed')).toEqual(['broken']);
  });
});

describe('streams', () => {
  it('removes the usage chunk unless the client asked for it, and reports usage either way', async () => {
    const seen = outcomes();
    const { url } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [seen.plugin] });

    const plain = sseChunks(await (await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask })).text());
    expect(plain.some((item) => 'usage' in item)).toBe(false);
    expect(plain.at(-1)!.choices[0]!.finish_reason).toBe('stop');

    const asked = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, stream_options: { include_usage: true }, ...ask });
    const withUsage = sseChunks(await asked.text());
    expect(withUsage.at(-1)).toEqual(usageChunk(undefined, 'm'));

    expect(seen.responses.map(({ outcome }) => outcome.usage)).toEqual([usageChunk().usage, usageChunk().usage]);
    const outcome = asChat(seen.responses[0]?.outcome);
    expect(outcome).toMatchObject({ streamed: true, aborted: false, answeredBy: 'upstream' });
    expect(seen.responses[0]!.context.timeToFirstChunkMs).toBeGreaterThan(0);
  });

  it('strips usage from a content chunk that carries it without dropping the content', async () => {
    const provider = fakeProvider('alpha', () => ({
      type: 'stream',
      stream: streamOf([chunk({ role: 'assistant', content: 'All' }), { ...chunk({ content: ' done' }, 'stop'), usage: usageChunk().usage }]),
    }));
    const { url } = await startGateway({ providers: [provider] });
    const chunks = sseChunks(await (await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask })).text());
    expect(contentOf(chunks)).toBe('All done');
    expect(chunks.some((item) => 'usage' in item)).toBe(false);
  });

  it('answers a non-stream request from a provider stream as one JSON completion', async () => {
    const provider = fakeProvider('alpha', () => ({ type: 'stream', stream: streamOf(textChunks('Collected answer')) }));
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    const body = (await response.json()) as ChatCompletion;
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toBe('Collected answer');
    expect(body.usage).toEqual(usageChunk().usage);
  });

  it('ends a stream that fails midway with an error frame and no [DONE]', async () => {
    async function* failing(): AsyncGenerator<ChatCompletionChunk> {
      yield chunk({ role: 'assistant', content: '' });
      yield chunk({ content: 'Half an ans' });
      throw GatewayError.badGateway('The upstream connection was reset.', 'alpha');
    }
    const seen = outcomes();
    const { url } = await startGateway({ providers: [fakeProvider('alpha', () => ({ type: 'stream', stream: failing() }))], plugins: [seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(response.status).toBe(200);
    const data = sseData(await response.text());
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toEqual({
      error: { message: 'The upstream connection was reset.', type: 'api_error', param: null, code: 'bad_gateway' },
    });
    expect(contentOf(sseChunks(data.slice(0, -1).map((item) => `data: ${item}`).join('\n\n')))).toBe('Half an ans');
    await seen.settled;
    expect(seen.responses).toHaveLength(0);
    expect(seen.errors[0]!.error.code).toBe('bad_gateway');
    expect(seen.errors[0]!.details.partial!.choices[0]!.message.content).toBe('Half an ans');
  });

  it('answers a stream that fails before its first chunk with a real HTTP status', async () => {
    async function* failing(): AsyncGenerator<ChatCompletionChunk> {
      throw GatewayError.rateLimited('Slow down.', 1_000);
    }
    const seen = outcomes();
    const { url } = await startGateway({ providers: [fakeProvider('alpha', () => ({ type: 'stream', stream: failing() }))], plugins: [seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(seen.errors[0]!.error.status).toBe(429);
  });

  it('reports a stream that ends without a finish reason as an error, never as a stop', async () => {
    const provider = fakeProvider('alpha', () => ({ type: 'stream', stream: streamOf([chunk({ role: 'assistant', content: 'Cut' }), chunk({ content: ' off' })]) }));
    const seen = outcomes();
    const { url } = await startGateway({ providers: [provider], plugins: [seen.plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    const data = sseData(await response.text());
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { code: 'bad_gateway', type: 'api_error' } });
    expect(sseChunks(data.slice(0, -1).map((item) => `data: ${item}`).join('\n\n')).every((item) => item.choices[0]!.finish_reason === null)).toBe(true);
    await seen.settled;
    expect(seen.errors[0]!.details.partial!.choices[0]!.message.content).toBe('Cut off');
  });

  it('answers 502 for an empty stream and for a cut-off stream collected into JSON', async () => {
    let chunks: ChatCompletionChunk[] = [];
    const provider = fakeProvider('alpha', () => ({ type: 'stream', stream: streamOf(chunks) }));
    const { url } = await startGateway({ providers: [provider] });
    const empty = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    expect(empty.status).toBe(502);
    expect(((await empty.json()) as { error: { code: string } }).error.code).toBe('bad_gateway');
    chunks = [chunk({ content: 'partial' })];
    const collected = await postJson(chatUrl(url), { model: 'alpha/m', ...ask });
    expect(collected.status).toBe(502);
  });
});

/** A provider stream that sends `first`, then waits for more until the call's signal aborts. */
function hangingStream(first: ChatCompletionChunk[], signal: AbortSignal, returned: Deferred<void>): AsyncIterable<ChatCompletionChunk> {
  let index = 0;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        index < first.length
          ? Promise.resolve({ done: false, value: first[index++]! })
          : new Promise<IteratorResult<ChatCompletionChunk>>((_resolve, reject) => {
              if (signal.aborted) reject(signal.reason);
              else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            }),
      return: () => {
        returned.resolve();
        return Promise.resolve({ done: true, value: undefined });
      },
    }),
  };
}

/** Reads an SSE response incrementally: `until(count)` waits for that many data events, `rest()` reads to the end. */
function eventReader(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const readMore = async () => {
    const { value, done } = await reader.read();
    if (!done) text += decoder.decode(value, { stream: true });
    return !done;
  };
  return {
    async until(count: number): Promise<string> {
      while (sseData(text).length < count && (await readMore()));
      return text;
    },
    async rest(): Promise<string> {
      try {
        while (await readMore());
      } catch {
        // A connection cut by the gateway ends the text where it stopped.
      }
      return text;
    },
  };
}

/** A provider whose JSON call waits until its cancellation aborts; `called` once it has started, `aborted` with the reason. */
function providerAwaitingCancellation() {
  const called = deferred();
  const aborted = deferred<unknown>();
  const provider = fakeProvider(
    'alpha',
    (_modelId, _request, options) =>
      new Promise((_resolve, reject) => {
        options.cancellation!.subscribe((reason) => {
          aborted.resolve(reason);
          reject(reason);
        });
        called.resolve();
      }),
  );
  return { provider, called, aborted };
}

describe('client disconnect', () => {
  it('aborts the provider signal and returns the provider iterator when the client goes away', async () => {
    const aborted = deferred();
    const returned = deferred();
    const provider = fakeProvider('alpha', (_modelId, _request, options) => {
      options.signal.addEventListener('abort', () => aborted.resolve(), { once: true });
      return { type: 'stream', stream: hangingStream([chunk({ role: 'assistant', content: '' }), chunk({ content: 'Started' })], options.signal, returned) };
    });
    const seen = outcomes();
    const { url } = await startGateway({ providers: [provider], plugins: [seen.plugin] });
    const client = new AbortController();
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask }, {}, client.signal);
    expect(contentOf(sseChunks(await eventReader(response).until(2)))).toBe('Started');
    client.abort();
    await Promise.all([aborted.promise, returned.promise, seen.settled]);
    expect(seen.errors).toHaveLength(0);
    expect(seen.responses[0]!.outcome).toMatchObject({ streamed: true, aborted: true });
    expect(asChat(seen.responses[0]?.outcome).response.choices[0]!.message.content).toBe('Started');
  });

  it('aborts a JSON call through its cancellation when the client goes away, making no AbortSignal on the way', async () => {
    const signalReads = vi.spyOn(Cancellation.prototype, 'signal', 'get');
    try {
      const { provider, called, aborted } = providerAwaitingCancellation();
      const passThrough = definePlugin({ name: 'pass-through', wrapUpstream: (next) => (request) => next(request) });
      const seen = outcomes();
      const { url } = await startGateway({ providers: [provider], plugins: [passThrough, seen.plugin] });
      const client = new AbortController();
      const answered = postJson(chatUrl(url), { model: 'alpha/m', ...ask }, {}, client.signal).catch((error: unknown) => error);
      await called.promise;
      client.abort();
      expect(await answered).toMatchObject({ name: 'AbortError' });
      expect(await aborted.promise).toMatchObject({ name: 'AbortError', message: 'The client disconnected.' });
      await seen.settled;
      expect(signalReads).not.toHaveBeenCalled();
    } finally {
      signalReads.mockRestore();
    }
  });

  it('logs an abort listener that throws, and the provider is still aborted', async () => {
    const logger = recordingLogger();
    const { provider, called, aborted } = providerAwaitingCancellation();
    const careless = definePlugin({
      name: 'careless',
      onRequest: (context) => {
        context.cancellation.subscribe(() => {
          throw new Error('listener bug');
        });
      },
    });
    const { url } = await startGateway({ providers: [provider], plugins: [careless], logger });
    const client = new AbortController();
    const answered = postJson(chatUrl(url), { model: 'alpha/m', ...ask }, {}, client.signal).catch((error: unknown) => error);
    await called.promise;
    client.abort();
    await answered;
    expect(await aborted.promise).toMatchObject({ name: 'AbortError' });
    await expect.poll(() => logger.entries.some((entry) => entry.level === 'error' && entry.message === 'an abort listener failed')).toBe(true);
  });

  it('gives a provider that copies its options a signal that still aborts when the client goes away', async () => {
    const called = deferred();
    const aborted = deferred<unknown>();
    const provider = fakeProvider('alpha', (_modelId, _request, options) => {
      const { signal } = { ...options, headers: { 'x-extra': '1' } };
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted.resolve(signal.reason);
          reject(signal.reason);
        });
        called.resolve();
      });
    });
    const { url } = await startGateway({ providers: [provider] });
    const client = new AbortController();
    const answered = postJson(chatUrl(url), { model: 'alpha/m', ...ask }, {}, client.signal).catch((error: unknown) => error);
    await called.promise;
    client.abort();
    await answered;
    expect(await aborted.promise).toMatchObject({ name: 'AbortError', message: 'The client disconnected.' });
  });

  it('returns the iterator of a provider that ignores the signal and keeps producing', async () => {
    const returned = deferred();
    let produced = 0;
    const provider = fakeProvider('alpha', () => ({
      type: 'stream',
      stream: (async function* endless(): AsyncGenerator<ChatCompletionChunk> {
        try {
          yield chunk({ role: 'assistant', content: '' });
          // Bounded so a gateway that never stops the stream fails the test instead of hanging it.
          while (produced < 100_000) {
            produced += 1;
            await new Promise((resolve) => setImmediate(resolve));
            yield chunk({ content: 'x' });
          }
        } finally {
          returned.resolve();
        }
      })(),
    }));
    const { url } = await startGateway({ providers: [provider] });
    const client = new AbortController();
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask }, {}, client.signal);
    await eventReader(response).until(3);
    client.abort();
    await returned.promise;
    expect(produced).toBeLessThan(100_000);
  });
});

describe('close', () => {
  it('lets an in-flight stream finish before running onClose and closing providers', async () => {
    const log: string[] = [];
    const gate = deferred();
    const provider = fakeProvider('alpha', () => ({
      type: 'stream',
      stream: (async function* gated(): AsyncGenerator<ChatCompletionChunk> {
        yield chunk({ role: 'assistant', content: 'First' });
        await gate.promise;
        yield chunk({ content: ' and last' });
        yield chunk({}, 'stop');
      })(),
    }));
    const plugin = definePlugin({
      name: 'lifecycle',
      onResponse: () => void log.push('onResponse'),
      onClose: () => void log.push('onClose'),
    });
    const { url, gateway } = await startGateway({ providers: [provider], plugins: [plugin] });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    const events = eventReader(response);
    await events.until(1);
    const closed = gateway.close().then(() => log.push('closed'));
    // The stream is still open: nothing may have been closed yet.
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([]);
    expect(provider.closed).toBe(false);
    gate.resolve();
    const text = await events.rest();
    await closed;
    expect(contentOf(sseChunks(text))).toBe('First and last');
    expect(sseData(text).at(-1)).toBe('[DONE]');
    expect(log).toEqual(['onResponse', 'onClose', 'closed']);
    expect(provider.closed).toBe(true);
  });

  it('aborts streams still running at the drain deadline', async () => {
    const aborted = deferred();
    const returned = deferred();
    const provider = fakeProvider('alpha', (_modelId, _request, options) => {
      options.signal.addEventListener('abort', () => aborted.resolve(), { once: true });
      return { type: 'stream', stream: hangingStream([chunk({ role: 'assistant', content: 'Slow' })], options.signal, returned) };
    });
    const log: string[] = [];
    const { url, gateway } = await startGateway({ providers: [provider], plugins: [{ name: 'lifecycle', onClose: () => void log.push('onClose') }], drainTimeoutMs: 50 });
    const response = await postJson(chatUrl(url), { model: 'alpha/m', stream: true, ...ask });
    const events = eventReader(response);
    await events.until(1);
    await gateway.close();
    const text = await events.rest();
    await Promise.all([aborted.promise, returned.promise]);
    expect(sseData(text)).not.toContain('[DONE]');
    expect(log).toEqual(['onClose']);
  });

  it('runs onClose once even when close is called twice', async () => {
    const log: string[] = [];
    const { gateway } = await startGateway({ providers: [fakeProvider('alpha')], plugins: [{ name: 'lifecycle', onClose: () => void log.push('onClose') }] });
    await Promise.all([gateway.close(), gateway.close()]);
    await gateway.close();
    expect(log).toEqual(['onClose']);
  });
});
