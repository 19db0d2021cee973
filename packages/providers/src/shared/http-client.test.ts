import { Readable } from 'node:stream';
import { GatewayError } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, sendJson, startMockUpstream } from '../test-utils/mock-upstream.js';
import { HttpClient, readText, transportError } from './http-client.js';

const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((resource) => resource.close()));
});

async function echoUpstream(): Promise<MockUpstream> {
  const upstream = await startMockUpstream((request, response) => sendJson(response, 200, { url: request.url, headers: request.headers, body: request.body }));
  opened.push(upstream);
  return upstream;
}

function client(baseURL: string, headers?: Record<string, string>): HttpClient {
  const created = new HttpClient({ provider: 'p', baseURL, headers });
  opened.push(created);
  return created;
}

async function json(response: { body: AsyncIterable<Buffer> }): Promise<any> {
  return JSON.parse(await readText(response.body));
}

describe('HttpClient', () => {
  it('joins the base URL’s path and the request path, with or without a trailing slash', async () => {
    const upstream = await echoUpstream();
    for (const baseURL of [`${upstream.url}/compatible-mode/v1`, `${upstream.url}/compatible-mode/v1/`]) {
      const response = await client(baseURL).request({ method: 'GET', path: '/models?limit=2', signal: new AbortController().signal });
      expect(response.status).toBe(200);
      expect((await json(response)).url).toBe('/compatible-mode/v1/models?limit=2');
    }
    const bare = await client(upstream.url).request({ method: 'GET', path: '/models', signal: new AbortController().signal });
    expect((await json(bare)).url).toBe('/models');
  });

  it('sends JSON headers, the configured headers, then the request’s own on top', async () => {
    const upstream = await echoUpstream();
    const response = await client(upstream.url, { authorization: 'Bearer k', 'x-api-version': '1' }).request({
      method: 'POST',
      path: '/chat/completions',
      body: '{"a":1}',
      headers: { 'x-api-version': '2', 'x-request-id': 'r1' },
      signal: new AbortController().signal,
    });
    const echoed = await json(response);
    expect(echoed.headers).toMatchObject({ 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer k', 'x-api-version': '2', 'x-request-id': 'r1' });
    expect(echoed.body).toBe('{"a":1}');
  });

  it('returns error statuses as responses: mapping them is the adapter’s job', async () => {
    const upstream = await startMockUpstream((_request, response) => sendJson(response, 418, { error: 'teapot' }));
    opened.push(upstream);
    const response = await client(upstream.url).request({ method: 'GET', path: '/', signal: new AbortController().signal });
    expect(response.status).toBe(418);
    expect(await json(response)).toEqual({ error: 'teapot' });
  });
});

describe('HttpClient.requestJson', () => {
  const toError = (status: number, headers: Record<string, unknown>, bodyText: string) => Object.assign(new Error(`upstream ${status}`), { status, headers, bodyText });

  it('parses the answer and lists repeated headers as arrays', async () => {
    const upstream = await startMockUpstream((request, response) => {
      response.setHeader('set-cookie', ['a=1', 'b=2']);
      response.setHeader('X-Upstream', 'yes');
      sendJson(response, 200, { path: request.url, body: request.body });
    });
    opened.push(upstream);
    const answer = await client(`${upstream.url}/v1`).requestJson({ method: 'POST', path: '/chat/completions', body: '{"a":1}', signal: new AbortController().signal }, toError);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ path: '/v1/chat/completions', body: '{"a":1}' });
    expect(answer.headers['x-upstream']).toBe('yes');
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('turns an error status into the adapter’s error, with the body’s text', async () => {
    const upstream = await startMockUpstream((_request, response) => sendJson(response, 429, { error: { message: 'slow down' } }));
    opened.push(upstream);
    const failure = await client(upstream.url).requestJson({ method: 'GET', path: '/', signal: new AbortController().signal }, toError).catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 429, bodyText: '{"error":{"message":"slow down"}}' });
  });

  it('reports a body that is not JSON as a malformed answer (502)', async () => {
    const upstream = await startMockUpstream((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('<html>oops</html>');
    });
    opened.push(upstream);
    const failure = await client(upstream.url).requestJson({ method: 'GET', path: '/', signal: new AbortController().signal }, toError).catch((error: unknown) => error);
    expect(GatewayError.isInstance(failure)).toBe(true);
    expect((failure as GatewayError).status).toBe(502);
    expect((failure as GatewayError).message).toContain('is not JSON');
  });

  it('sends nothing when the signal is already aborted', async () => {
    let requests = 0;
    const upstream = await startMockUpstream((_request, response) => {
      requests++;
      sendJson(response, 200, {});
    });
    opened.push(upstream);
    const failure = await client(upstream.url).requestJson({ method: 'GET', path: '/', signal: AbortSignal.abort() }, toError).catch((error: unknown) => error);
    expect((failure as Error).name).toBe('AbortError');
    expect(requests).toBe(0);
  });

  it('aborts a request in flight: the upstream sees its connection closed and the caller an AbortError', async () => {
    let upstreamClosed: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = await startMockUpstream((_request, _response, raw) => {
      // Never answers: only the abort can end this request.
      raw.socket.once('close', () => upstreamClosed());
    });
    opened.push(upstream);
    const controller = new AbortController();
    const pending = client(upstream.url).requestJson({ method: 'GET', path: '/', signal: controller.signal }, toError).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(new DOMException('The client disconnected.', 'AbortError'));
    expect(((await pending) as Error).name).toBe('AbortError');
    await closed;
  });

  it('maps a refused connection to a retryable 502', async () => {
    const upstream = await echoUpstream();
    const url = upstream.url;
    await upstream.close();
    const failure = await client(url).requestJson({ method: 'GET', path: '/', signal: new AbortController().signal }, toError).catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 502, code: 'upstream_unreachable', isRetryable: true });
  });
});

describe('readText', () => {
  async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
    for (const part of parts) yield Buffer.from(part);
  }

  it('joins a body’s chunks', async () => {
    expect(await readText(chunks('{"a":', '1}'))).toBe('{"a":1}');
  });

  it('stops before the chunk that passes the limit', async () => {
    expect(await readText(chunks('abc', 'def', 'ghi'), 7)).toBe('abcdef');
  });

  describe('from a Node stream', () => {
    const stream = (...parts: string[]) => Readable.from(parts.map((part) => Buffer.from(part)));

    it('joins its chunks, multi-byte characters split across them included', async () => {
      const euro = Buffer.from('€');
      const body = Readable.from([Buffer.from('{"price":"'), euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from('5"}')])]);
      expect(await readText(body)).toBe('{"price":"€5"}');
      expect(await readText(stream('one chunk'))).toBe('one chunk');
      expect(await readText(stream())).toBe('');
    });

    it('stops before the chunk that passes the limit and destroys the rest', async () => {
      const body = stream('abc', 'def', 'ghi');
      expect(await readText(body, 7)).toBe('abcdef');
      expect(body.destroyed).toBe(true);
    });

    it('rejects with the stream’s error', async () => {
      const failure = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
      const body = new Readable({ read() {} });
      body.push(Buffer.from('partial'));
      setImmediate(() => body.destroy(failure));
      await expect(readText(body)).rejects.toBe(failure);
    });

    it('rejects a body closed before its end', async () => {
      const body = new Readable({ read() {} });
      body.push(Buffer.from('partial'));
      setImmediate(() => body.destroy());
      await expect(readText(body)).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    });

    it('reads a stream that has already ended as before', async () => {
      const body = stream('done');
      for await (const _chunk of body) {
        // consumed
      }
      expect(await readText(body)).toBe('');
    });
  });
});

describe('transportError', () => {
  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'connecting'],
    ['UND_ERR_HEADERS_TIMEOUT', 'waiting for the first byte'],
    ['UND_ERR_BODY_TIMEOUT', 'waiting for more data'],
  ])('maps %s to a retryable 504', (code, what) => {
    const cause = Object.assign(new Error('timeout'), { code });
    const error = transportError(cause, 'xai') as GatewayError;
    expect(error).toMatchObject({ status: 504, type: 'timeout_error', code: 'upstream_timeout', isRetryable: true, provider: 'xai', cause });
    expect(error.message).toBe(`The upstream provider 'xai' timed out ${what}.`);
  });

  it('maps refused and reset connections to a retryable 502', () => {
    for (const code of ['ECONNREFUSED', 'ENOTFOUND']) {
      const error = transportError(Object.assign(new Error(code), { code }), 'xai') as GatewayError;
      expect(error).toMatchObject({ status: 502, code: 'upstream_unreachable', isRetryable: true });
      expect(error.message).toBe(`Could not reach the upstream provider 'xai' (${code}).`);
    }
    // Closed or reset connections may have been half-way through an answer.
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']) {
      const error = transportError(Object.assign(new Error(code), { code }), 'xai') as GatewayError;
      expect(error).toMatchObject({ status: 502, code: 'upstream_unreachable', isRetryable: true });
      expect(error.message).toBe(`The connection to the upstream provider 'xai' was closed unexpectedly (${code}).`);
    }
    expect(transportError(new Error('no code'), 'xai')).toMatchObject({ status: 502, message: "Could not reach the upstream provider 'xai'." });
  });

  it('leaves GatewayErrors and cancellations as they are', () => {
    const gatewayError = GatewayError.badGateway('x');
    expect(transportError(gatewayError, 'p')).toBe(gatewayError);
    const abort = new DOMException('gone', 'AbortError');
    expect(transportError(abort, 'p')).toBe(abort);
  });
});
