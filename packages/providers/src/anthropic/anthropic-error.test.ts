import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { createAnthropicError, createAnthropicStreamError, extractAnthropicError } from './anthropic-error.js';
import { readFixture } from './__fixtures__/anthropic-wire.js';

const validators = loadOpenAISchemaValidators();

describe('createAnthropicError', () => {
  it.each([
    ['400-invalid_request_error.json', 400, 400, 'invalid_request_error', null, false],
    ['400-prompt-too-long.json', 400, 400, 'invalid_request_error', 'context_length_exceeded', false],
    ['401-authentication_error.json', 401, 401, 'authentication_error', 'invalid_api_key', false],
    ['403-permission_error.json', 403, 403, 'permission_error', null, false],
    ['404-not_found_error.json', 404, 404, 'invalid_request_error', 'model_not_found', false],
    ['413-request_too_large.json', 413, 413, 'invalid_request_error', 'request_too_large', false],
    ['429-rate_limit_error.json', 429, 429, 'rate_limit_error', 'rate_limit_exceeded', true],
    ['500-api_error.json', 500, 500, 'server_error', null, true],
    ['529-overloaded_error.json', 529, 503, 'service_unavailable', 'overloaded', true],
  ])('%s → HTTP %s becomes %s %s', (file, upstreamStatus, status, type, code, retryable) => {
    const body = readFixture(`errors/${file}`);
    const error = createAnthropicError('anthropic', upstreamStatus, {}, body);
    expect(error.status).toBe(status);
    expect(error.type).toBe(type);
    expect(error.code).toBe(code);
    expect(error.isRetryable).toBe(retryable);
    expect(error.provider).toBe('anthropic');
    expect(error.upstreamStatus).toBe(upstreamStatus);
    expect(error.message).toBe((JSON.parse(body) as { error: { message: string } }).error.message);
    expect(validators?.error(error.toJSON()) ?? []).toEqual([]);
  });

  it('names the field for a missing model and for an over-long prompt', () => {
    expect(createAnthropicError('anthropic', 404, {}, readFixture('errors/404-not_found_error.json')).param).toBe('model');
    expect(createAnthropicError('anthropic', 400, {}, readFixture('errors/400-prompt-too-long.json')).param).toBe('messages');
  });

  it('keeps retry-after from a 429', () => {
    const error = createAnthropicError('anthropic', 429, { 'retry-after': '17' }, readFixture('errors/429-rate_limit_error.json'));
    expect(error.retryAfterMs).toBe(17_000);
  });

  it('follows x-should-retry when Anthropic sends it', () => {
    const body = readFixture('errors/500-api_error.json');
    expect(createAnthropicError('anthropic', 500, { 'x-should-retry': 'false' }, body).isRetryable).toBe(false);
    expect(createAnthropicError('anthropic', 409, { 'x-should-retry': 'true' }, '{"type":"error","error":{"type":"invalid_request_error","message":"conflict"}}').isRetryable).toBe(true);
    expect(createAnthropicError('anthropic', 500, { 'x-should-retry': 'maybe' }, body).isRetryable).toBe(true);
  });

  it('still answers in OpenAI’s shape when the body is not Anthropic’s', () => {
    const error = createAnthropicError('anthropic', 502, {}, '<html>Bad gateway</html>');
    expect(error.status).toBe(502);
    expect(error.type).toBe('api_error');
    expect(error.message).toContain('HTTP 502');
    expect(validators?.error(error.toJSON()) ?? []).toEqual([]);
  });
});

describe('createAnthropicStreamError', () => {
  it('maps an error event by its type, as the HTTP error it stands for', () => {
    const overloaded = createAnthropicStreamError('anthropic', { type: 'error', error: { details: null, type: 'overloaded_error', message: 'Overloaded' } });
    expect([overloaded.status, overloaded.type, overloaded.isRetryable]).toEqual([503, 'service_unavailable', true]);
    const rateLimited = createAnthropicStreamError('anthropic', { type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
    expect([rateLimited.status, rateLimited.type, rateLimited.isRetryable]).toEqual([429, 'rate_limit_error', true]);
    const unknown = createAnthropicStreamError('anthropic', { type: 'error', error: { type: 'brand_new_error', message: 'new' } });
    expect([unknown.status, unknown.type, unknown.isRetryable]).toEqual([500, 'brand_new_error', true]);
  });
});

describe('extractAnthropicError', () => {
  it('reads only Anthropic error bodies', () => {
    expect(extractAnthropicError({ error: { type: 'rate_limit_error', message: 'm' } })).toMatchObject({ type: 'rate_limit_error', message: 'm' });
    expect(extractAnthropicError({ message: 'not an error body' })).toBeUndefined();
  });
});
