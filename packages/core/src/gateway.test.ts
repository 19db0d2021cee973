import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ask, closeGateways, completion, fakeProvider, postJson, sseChunks, startGateway } from './__fixtures__/fakes.js';
import { GatewayError } from './errors.js';
import type { EmbeddingResponse } from './wire/openai-types.js';

afterEach(closeGateways);

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Sends a body in pieces without a content-length (chunked), the way a streaming client would. */
function sendChunked(url: string, path: string, pieces: Array<string | Buffer>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(parts).toString('utf8') }));
    });
    // The gateway may answer (413) and close before the whole body is written; that is not a test failure.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (const piece of pieces) request.write(piece);
    request.end();
  });
}

async function errorOf(response: Response): Promise<ErrorBody['error']> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await response.json()) as ErrorBody).error;
}

describe('request bodies', () => {
  it('refuses a body over the limit by its declared length with 413', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider], bodyLimitBytes: 1_024 });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', messages: [{ role: 'user', content: 'x'.repeat(2_000) }] });
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
    expect(provider.calls).toHaveLength(0);
  });

  it('refuses a chunked body once it grows past the limit', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider], bodyLimitBytes: 1_024 });
    const response = await sendChunked(url, '/v1/chat/completions', ['{"model":"alpha/m","messages":[{"role":"user","content":"', 'y'.repeat(800), 'y'.repeat(800), '"}]}']);
    expect(response.status).toBe(413);
    expect((JSON.parse(response.body) as ErrorBody).error.code).toBe('request_too_large');
    expect(provider.calls).toHaveLength(0);
  });

  it('accepts a chunked body under the limit', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await sendChunked(url, '/v1/chat/completions', ['{"model":"alpha/m",', '"messages":[{"role":"user","content":"hi"}]}']);
    expect(response.status).toBe(200);
  });

  it('answers invalid JSON with 400 invalid_json', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await postJson(`${url}/v1/chat/completions`, '{"model": "alpha/m", "messages": [');
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
  });

  it('answers invalid UTF-8 with 400 instead of replacing the bytes', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const prefix = Buffer.from('{"model":"alpha/m","messages":[{"role":"user","content":"');
    const response = await sendChunked(url, '/v1/chat/completions', [Buffer.concat([prefix, Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')])]);
    expect(response.status).toBe(400);
    expect((JSON.parse(response.body) as ErrorBody).error).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('UTF-8') });
  });

  it('accepts UTF-8 split across network chunks', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider] });
    const body = Buffer.from('{"model":"alpha/m","messages":[{"role":"user","content":"héllo 🚀"}]}');
    const split = body.indexOf(0xf0) + 2;
    const response = await sendChunked(url, '/v1/chat/completions', [body.subarray(0, split), body.subarray(split)]);
    expect(response.status).toBe(200);
    expect(provider.calls[0]!.request.messages[0]!.content).toBe('héllo 🚀');
  });

  it('refuses JSON nested deeper than the limit, counting brackets outside strings only', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider], maxJsonDepth: 8 });
    const deep = `{"model":"alpha/m","messages":[{"role":"user","content":"hi"}],"extra":${'['.repeat(8)}${']'.repeat(8)}}`;
    const refused = await postJson(`${url}/v1/chat/completions`, deep);
    expect(refused.status).toBe(400);
    expect(await errorOf(refused)).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('8 levels') });

    const bracketsInString = JSON.stringify({ model: 'alpha/m', messages: [{ role: 'user', content: '[[[[[[[[[[{{{{{{{{"\\' }] });
    expect((await postJson(`${url}/v1/chat/completions`, bracketsInString)).status).toBe(200);
    expect(provider.calls[0]!.request.messages[0]!.content).toBe('[[[[[[[[[[{{{{{{{{"\\');
  });

  it('refuses default-depth bombs', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await postJson(`${url}/v1/chat/completions`, `${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).message).toContain('64 levels');
  });

  it('answers an empty body and a non-object body with 400', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const empty = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    expect(await errorOf(empty)).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('empty') });
    for (const body of ['[]', 'null', '"text"', '42']) {
      const response = await postJson(`${url}/v1/chat/completions`, body);
      expect(response.status, body).toBe(400);
      expect((await errorOf(response)).message).toContain('JSON object');
    }
  });
});

describe('request validation', () => {
  async function invalid(body: unknown) {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, body);
    expect(response.status).toBe(400);
    expect(provider.calls).toHaveLength(0);
    return errorOf(response);
  }

  it('names the field of a message with an unknown role', async () => {
    const error = await invalid({ model: 'alpha/m', messages: [{ role: 'robot', content: 'hi' }] });
    expect(error).toMatchObject({ type: 'invalid_request_error', param: 'messages[0].role', code: 'invalid_value' });
  });

  it('names nested fields inside content parts', async () => {
    const error = await invalid({
      model: 'alpha/m',
      messages: [{ role: 'user', content: 'ok' }, { role: 'user', content: [{ type: 'image_url', image_url: { url: '' } }] }],
    });
    expect(error.param).toBe('messages[1].content[0].image_url.url');
    const wrongPart = await invalid({ model: 'alpha/m', messages: [{ role: 'user', content: [{ type: 'video', video: 'x' }] }] });
    expect(wrongPart.param).toBe('messages[0].content[0].type');
  });

  it('reports a missing required field as missing', async () => {
    const error = await invalid({ messages: [{ role: 'user', content: 'hi' }] });
    expect(error).toMatchObject({ param: 'model', message: "Missing required parameter: 'model'." });
    const toolMessage = await invalid({ model: 'alpha/m', messages: [{ role: 'tool', content: 'result' }] });
    expect(toolMessage).toMatchObject({ param: 'messages[0].tool_call_id', message: expect.stringContaining('Missing') });
  });

  it('checks ranges of known parameters', async () => {
    expect((await invalid({ model: 'alpha/m', ...ask, temperature: 3 })).param).toBe('temperature');
    expect((await invalid({ model: 'alpha/m', messages: [] })).param).toBe('messages');
    expect((await invalid({ model: 'alpha/m', ...ask, tools: [{ type: 'function', function: { name: 'has spaces' } }] })).param).toBe('tools[0].function.name');
  });

  it('refuses stream_options without stream', async () => {
    const error = await invalid({ model: 'alpha/m', ...ask, stream_options: { include_usage: true } });
    expect(error).toMatchObject({ param: 'stream_options', code: 'invalid_value' });
  });

  it('passes unknown fields through to the provider untouched', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider] });
    const body = {
      model: 'alpha/m',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }], vendor_hint: 1 }],
      top_k: 40,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      stream_options: null,
      temperature: null,
    };
    const response = await postJson(`${url}/v1/chat/completions`, body);
    expect(response.status).toBe(200);
    expect(provider.calls[0]!.request).toEqual(body);
  });
});

describe('routes', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await fetch(`${url}/v1/completions/legacy`);
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: 'unknown_route', message: 'Unknown route: GET /v1/completions/legacy.' });
  });

  it('answers a wrong method with 405 and an allow header', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await fetch(`${url}/v1/chat/completions`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await errorOf(response)).toMatchObject({ code: 'method_not_allowed' });
    const deleteModels = await fetch(`${url}/v1/models`, { method: 'DELETE' });
    expect(deleteModels.status).toBe(405);
    expect(deleteModels.headers.get('allow')).toContain('GET');
  });

  it('serves chat completions with and without the /v1 prefix', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await postJson(`${url}/chat/completions`, { model: 'alpha/m', ...ask });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('Hello from alpha');
  });

  it('serves the OpenAI routes with a query string or a trailing slash, with and without CORS', async () => {
    for (const cors of [undefined, { origins: '*' as const }]) {
      const { url } = await startGateway({ providers: [fakeProvider('alpha')], cors });
      for (const path of ['/v1/chat/completions?api-version=1', '/v1/chat/completions/', '/chat/completions/?x=1']) {
        const response = await postJson(`${url}${path}`, { model: 'alpha/m', ...ask });
        expect(response.status, `${path} with cors ${JSON.stringify(cors)}`).toBe(200);
        expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(await response.text())));
      }
      const models = await fetch(`${url}/v1/models?limit=5`);
      expect(models.status).toBe(200);
    }
  });

  it('answers errors found before the pipeline (bad JSON) with a request id', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-bad-json' }, body: '{' });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).toBe('req-bad-json');
  });

  it('reports health with the provider ids', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha'), fakeProvider('beta')] });
    const response = await fetch(`${url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', providers: ['alpha', 'beta'] });
  });

  it('serves routes that a plugin adds in setup', async () => {
    const { url } = await startGateway({
      providers: [fakeProvider('alpha')],
      plugins: [{ name: 'admin', setup: ({ router }) => void router.get('/admin/ping', (ctx) => void (ctx.body = { pong: true })) }],
    });
    expect(await (await fetch(`${url}/admin/ping`)).json()).toEqual({ pong: true });
  });
});

describe('models', () => {
  const alpha = () =>
    fakeProvider('alpha', undefined, {
      listModels: async () => [{ id: 'small', created: 1_700_000_000 }, { id: 'vendor/large', ownedBy: 'vendor' }],
    });

  it('lists every provider model with its prefix, then the aliases', async () => {
    const failing = fakeProvider('broken', undefined, {
      listModels: async () => {
        throw GatewayError.badGateway('down');
      },
    });
    const { url, gateway } = await startGateway({ providers: [alpha(), failing, fakeProvider('quiet')], aliases: { fast: 'alpha/small' } });
    const response = await fetch(`${url}/v1/models`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      object: 'list',
      data: [
        { id: 'alpha/small', object: 'model', created: 1_700_000_000, owned_by: 'alpha' },
        { id: 'alpha/vendor/large', object: 'model', created: 0, owned_by: 'vendor' },
        { id: 'fast', object: 'model', created: 0, owned_by: 'switchyard' },
      ],
    });
    const logged = (gateway.logger as unknown as { entries: Array<{ level: string; message?: string }> }).entries;
    expect(logged.some((entry) => entry.level === 'warn' && entry.message === 'listing models failed for a provider')).toBe(true);
  });

  it('describes one model, slashes in its id included', async () => {
    const { url } = await startGateway({ providers: [alpha()], aliases: { fast: 'alpha/small' } });
    for (const path of ['/v1/models/alpha/vendor/large', '/models/alpha/vendor/large']) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id: 'alpha/vendor/large', object: 'model', created: 0, owned_by: 'alpha' });
    }
    expect(await (await fetch(`${url}/v1/models/fast`)).json()).toMatchObject({ id: 'fast', owned_by: 'alpha' });
  });

  it('answers an unknown model id with 404 model_not_found', async () => {
    const { url } = await startGateway({ providers: [alpha()] });
    const response = await fetch(`${url}/v1/models/nobody/nothing`);
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: 'model_not_found', param: 'model' });
  });
});

describe('response headers', () => {
  it('echoes a sane x-request-id and passes it to the provider', async () => {
    const provider = fakeProvider('alpha');
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask }, { 'x-request-id': 'client-123.abc:7' });
    expect(response.headers.get('x-request-id')).toBe('client-123.abc:7');
    expect(provider.calls[0]!.options.requestId).toBe('client-123.abc:7');
  });

  it('generates a request id when none or an unsafe one is sent, on errors too', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const none = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask });
    expect(none.headers.get('x-request-id')).toMatch(uuid);
    const unsafe = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask }, { 'x-request-id': 'has spaces and <tags>' });
    expect(unsafe.headers.get('x-request-id')).toMatch(uuid);
    const tooLong = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask }, { 'x-request-id': 'a'.repeat(129) });
    expect(tooLong.headers.get('x-request-id')).toMatch(uuid);
    const notFound = await postJson(`${url}/v1/chat/completions`, { model: 'nobody/m', ...ask }, { 'x-request-id': 'keep-me' });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-request-id')).toBe('keep-me');
  });

  it('names the provider and model that served, for JSON and for streams', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha')] });
    const json = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m-1', ...ask });
    expect(json.headers.get('x-switchyard-provider')).toBe('alpha');
    expect(json.headers.get('x-switchyard-model')).toBe('alpha/m-1');
    expect(json.headers.get('x-switchyard-attempts')).toBe('1');
    expect(json.headers.get('content-length')).not.toBeNull();
    const stream = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m-1', stream: true, ...ask });
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('x-switchyard-provider')).toBe('alpha');
    expect(stream.headers.get('x-switchyard-model')).toBe('alpha/m-1');
    expect(sseChunks(await stream.text()).length).toBeGreaterThan(0);
  });
});

describe('embeddings', () => {
  const embeddingResponse: EmbeddingResponse = {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
    model: 'embed-1',
    usage: { prompt_tokens: 2, total_tokens: 2 },
  };

  it('calls the provider and answers its embeddings', async () => {
    const received: unknown[] = [];
    const provider = fakeProvider('alpha', undefined, {
      embeddings: async (modelId, request) => {
        received.push({ modelId, request });
        return embeddingResponse;
      },
    });
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/embeddings`, { model: 'alpha/embed-1', input: 'hello', dimensions: 2 });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(embeddingResponse);
    expect(response.headers.get('x-switchyard-model')).toBe('alpha/embed-1');
    expect(received).toEqual([{ modelId: 'embed-1', request: { model: 'alpha/embed-1', input: 'hello', dimensions: 2 } }]);
  });

  it('answers 400 for a provider without embeddings and for invalid input', async () => {
    const { url } = await startGateway({ providers: [fakeProvider('alpha', async () => ({ type: 'response', response: completion('x') }))] });
    const unsupported = await postJson(`${url}/v1/embeddings`, { model: 'alpha/m', input: 'hello' });
    expect(unsupported.status).toBe(400);
    expect(await errorOf(unsupported)).toMatchObject({ code: 'model_not_supported', param: 'model' });
    const badInput = await postJson(`${url}/v1/embeddings`, { model: 'alpha/m', input: [] });
    expect(badInput.status).toBe(400);
    expect((await errorOf(badInput)).param).toBe('input');
  });
});
