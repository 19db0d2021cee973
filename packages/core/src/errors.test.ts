import { afterEach, describe, expect, it } from 'vitest';
import { closeGateways, fakeProvider, postJson, startGateway, ask } from './__fixtures__/fakes.js';
import { GatewayError, isAbortError, parseRetryAfter, toGatewayError } from './errors.js';

afterEach(closeGateways);

/**
 * What a GatewayError from a second copy of @switchyard/core looks like to this copy: another class,
 * carrying the same registered-symbol brand.
 */
class ForeignGatewayError extends Error {
  readonly status = 503;
  readonly type = 'service_unavailable';
  readonly code = 'overloaded';
  readonly param = null;
  readonly isRetryable = true;
  readonly retryAfterMs = undefined;
  constructor(message: string) {
    super(message);
    (this as unknown as Record<symbol, unknown>)[Symbol.for('switchyard.gateway-error')] = true;
  }
  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

describe('GatewayError', () => {
  it('serialises to the OpenAI error shape with nulls for absent code and param', () => {
    const error = new GatewayError({ message: 'Nope.', status: 400, type: 'invalid_request_error' });
    expect(error.toJSON()).toEqual({ error: { message: 'Nope.', type: 'invalid_request_error', param: null, code: null } });
    expect(JSON.parse(JSON.stringify(error))).toEqual(error.toJSON());
    expect(error.isRetryable).toBe(false);
  });

  it('keeps upstream details out of the client body', () => {
    const error = new GatewayError({
      message: 'Upstream failed.',
      status: 502,
      type: 'api_error',
      code: 'bad_gateway',
      provider: 'alpha',
      upstreamStatus: 500,
      upstreamBody: { secret: 'internal trace' },
      isRetryable: true,
    });
    expect(error.toJSON()).toEqual({ error: { message: 'Upstream failed.', type: 'api_error', param: null, code: 'bad_gateway' } });
    expect(error.upstreamBody).toEqual({ secret: 'internal trace' });
  });

  it('recognises an error branded by another copy of the package', () => {
    const foreign = new ForeignGatewayError('Overloaded.');
    expect(GatewayError.isInstance(foreign)).toBe(true);
    expect(foreign instanceof GatewayError).toBe(true);
    expect(toGatewayError(foreign)).toBe(foreign);
    expect(GatewayError.isInstance({ [Symbol.for('switchyard.gateway-error')]: 'yes' })).toBe(false);
    expect(GatewayError.isInstance(new Error('plain'))).toBe(false);
    expect(GatewayError.isInstance(null)).toBe(false);
  });

  it('answers a foreign GatewayError thrown by a provider with its own status and body', async () => {
    const provider = fakeProvider('alpha', () => {
      throw new ForeignGatewayError('The upstream is overloaded.');
    });
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      error: { message: 'The upstream is overloaded.', type: 'service_unavailable', param: null, code: 'overloaded' },
    });
  });

  it('sends retry-after and retry-after-ms with a 429', async () => {
    const provider = fakeProvider('alpha', () => {
      throw GatewayError.rateLimited('Slow down.', 1_500);
    });
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.headers.get('retry-after-ms')).toBe('1500');
    expect(await response.json()).toEqual({ error: { message: 'Slow down.', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
  });

  it('sends no retry-after when the error has no delay', async () => {
    const provider = fakeProvider('alpha', () => {
      throw GatewayError.rateLimited('Out of quota.', undefined, 'insufficient_quota');
    });
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('insufficient_quota');
  });

  it('hides the message of an unexpected exception behind a 500', async () => {
    const provider = fakeProvider('alpha', () => {
      throw new TypeError('Cannot read properties of undefined (reading "secret")');
    });
    const { url } = await startGateway({ providers: [provider] });
    const response = await postJson(`${url}/v1/chat/completions`, { model: 'alpha/m', ...ask });
    expect(response.status).toBe(500);
    const body = (await response.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('internal_error');
    expect(body.error.message).not.toContain('secret');
  });

  it('has factories with the statuses, types and retryability clients expect', () => {
    expect(GatewayError.modelNotFound('x')).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', isRetryable: false });
    expect(GatewayError.authentication('bad key')).toMatchObject({ status: 401, type: 'authentication_error', code: 'invalid_api_key' });
    expect(GatewayError.permission('no')).toMatchObject({ status: 403, type: 'permission_error' });
    expect(GatewayError.timeout('slow', 'alpha')).toMatchObject({ status: 504, isRetryable: true, provider: 'alpha' });
    expect(GatewayError.badGateway('broken')).toMatchObject({ status: 502, isRetryable: true });
    expect(GatewayError.internal()).toMatchObject({ status: 500, type: 'server_error', isRetryable: false });
  });
});

describe('toGatewayError', () => {
  it('turns an abort into a 499 request_cancelled and anything else into a 500 keeping the cause', () => {
    const abort = new DOMException('The client disconnected.', 'AbortError');
    expect(isAbortError(abort)).toBe(true);
    expect(toGatewayError(abort)).toMatchObject({ status: 499, code: 'request_cancelled' });
    const unknown = new Error('boom');
    const converted = toGatewayError(unknown);
    expect(converted).toMatchObject({ status: 500, code: 'internal_error' });
    expect(converted.cause).toBe(unknown);
    expect(toGatewayError('a string')).toMatchObject({ status: 500 });
    expect(isAbortError({ code: 'ABORT_ERR' })).toBe(true);
    expect(isAbortError('AbortError')).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now)).toBe(250);
  });

  it('reads retry-after in seconds, fractional seconds included', () => {
    expect(parseRetryAfter({ 'retry-after': '3' }, now)).toBe(3_000);
    expect(parseRetryAfter({ 'retry-after': '0.5' }, now)).toBe(500);
    expect(parseRetryAfter({ 'retry-after': '0' }, now)).toBe(0);
  });

  it('reads retry-after as an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }, now)).toBe(30_000);
    expect(parseRetryAfter({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }, now)).toBe(0);
  });

  it('falls back to retry-after when retry-after-ms is unusable', () => {
    expect(parseRetryAfter({ 'retry-after-ms': 'soon', 'retry-after': '2' }, now)).toBe(2_000);
    expect(parseRetryAfter({ 'retry-after-ms': '-5', 'retry-after': '2' }, now)).toBe(2_000);
  });

  it('takes the first value of a repeated header', () => {
    expect(parseRetryAfter({ 'retry-after': ['4', '8'] }, now)).toBe(4_000);
  });

  it('returns undefined for absent or meaningless values', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'later' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '-1' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after-ms': ' ' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'Infinity' }, now)).toBeUndefined();
  });
});
