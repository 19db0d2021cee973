import { GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { extractOpenAIError } from '../openai/openai-error.js';
import { clientStatusFor, createUpstreamError, isRetryableStatus, malformedResponseError, type ProviderErrorDetails } from './upstream-error.js';

const noDetails = (): ProviderErrorDetails | undefined => undefined;

describe('clientStatusFor', () => {
  it.each([400, 401, 403, 404, 408, 409, 413, 422, 429, 451])('keeps client error %i: the SDKs choose their error class by it', (status) => {
    expect(clientStatusFor(status)).toBe(status);
  });

  it.each([500, 502, 503, 504])('keeps the standard server error %i', (status) => {
    expect(clientStatusFor(status)).toBe(status);
  });

  it('turns 529 “overloaded” into 503 and other unusual statuses into 502', () => {
    expect(clientStatusFor(529)).toBe(503);
    for (const status of [501, 505, 520, 522, 524, 598, 599, 302, 200]) expect(clientStatusFor(status)).toBe(502);
  });
});

describe('isRetryableStatus', () => {
  it('retries timeouts, conflicts, rate limits and server errors only', () => {
    for (const status of [408, 409, 429, 500, 502, 503, 504, 529]) expect(isRetryableStatus(status)).toBe(true);
    for (const status of [400, 401, 403, 404, 413, 422]) expect(isRetryableStatus(status)).toBe(false);
  });
});

describe('createUpstreamError', () => {
  it('takes message, type, code and param from the provider’s body', () => {
    const body = { error: { message: "Unknown parameter: 'foo'.", type: 'invalid_request_error', param: 'foo', code: 'unknown_parameter' } };
    const error = createUpstreamError({ provider: 'deepseek', status: 400, headers: {}, bodyText: JSON.stringify(body), extract: extractOpenAIError });
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      message: "Unknown parameter: 'foo'.",
      status: 400,
      type: 'invalid_request_error',
      code: 'unknown_parameter',
      param: 'foo',
      isRetryable: false,
      retryAfterMs: undefined,
      provider: 'deepseek',
      upstreamStatus: 400,
      upstreamBody: body,
    });
    expect(error.toJSON()).toEqual({ error: { message: "Unknown parameter: 'foo'.", type: 'invalid_request_error', param: 'foo', code: 'unknown_parameter' } });
  });

  it('falls back to the type OpenAI uses for the status when the body names none', () => {
    const typeFor = (status: number) => createUpstreamError({ provider: 'p', status, headers: {}, bodyText: '{"error":{"message":"m"}}', extract: extractOpenAIError }).type;
    expect(typeFor(400)).toBe('invalid_request_error');
    expect(typeFor(401)).toBe('authentication_error');
    expect(typeFor(403)).toBe('permission_error');
    expect(typeFor(404)).toBe('not_found_error');
    expect(typeFor(429)).toBe('rate_limit_error');
    expect(typeFor(529)).toBe('service_unavailable');
    expect(typeFor(500)).toBe('api_error');
  });

  it('describes a body it cannot read by status and a short excerpt', () => {
    const page = `<html>${'x'.repeat(5000)}</html>`;
    const error = createUpstreamError({ provider: 'groq', status: 503, headers: {}, bodyText: page, extract: extractOpenAIError });
    expect(error.message).toBe(`The upstream provider 'groq' answered HTTP 503: ${page.slice(0, 200)}.`);
    expect(error).toMatchObject({ status: 503, isRetryable: true, code: null, param: null });
    expect(error.upstreamBody).toBe(page.slice(0, 2000));

    const empty = createUpstreamError({ provider: 'groq', status: 500, headers: {}, bodyText: '', extract: extractOpenAIError });
    expect(empty.message).toBe("The upstream provider 'groq' answered HTTP 500.");
  });

  it('ignores JSON bodies the extractor does not recognise', () => {
    const error = createUpstreamError({ provider: 'p', status: 429, headers: {}, bodyText: '{"detail":"slow down"}', extract: noDetails });
    expect(error).toMatchObject({ status: 429, type: 'rate_limit_error', isRetryable: true, upstreamBody: { detail: 'slow down' } });
    expect(error.message).toContain('{"detail":"slow down"}');
  });

  it('reads how long to wait from retry-after-ms, retry-after seconds or an HTTP date', () => {
    const wait = (headers: Record<string, string | string[]>) => createUpstreamError({ provider: 'p', status: 429, headers, bodyText: '', extract: noDetails }).retryAfterMs;
    expect(wait({ 'retry-after': '7' })).toBe(7000);
    expect(wait({ 'retry-after-ms': '150', 'retry-after': '7' })).toBe(150);
    expect(wait({ 'retry-after': ['2', '9'] })).toBe(2000);
    const date = wait({ 'retry-after': new Date(Date.now() + 60_000).toUTCString() })!;
    expect(date).toBeGreaterThan(50_000);
    expect(date).toBeLessThanOrEqual(60_000);
    expect(wait({})).toBeUndefined();
    expect(wait({ 'retry-after': 'soon' })).toBeUndefined();
  });
});

describe('malformedResponseError', () => {
  it('is a retryable 502 naming the provider and what was wrong', () => {
    const cause = new SyntaxError('Unexpected token');
    const error = malformedResponseError('mistral', 'the body is not JSON', cause);
    expect(error).toMatchObject({ status: 502, type: 'api_error', code: 'bad_upstream_response', isRetryable: true, provider: 'mistral', cause });
    expect(error.message).toBe("The upstream provider 'mistral' sent a malformed response: the body is not JSON.");
  });
});
