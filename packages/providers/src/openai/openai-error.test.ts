import { GatewayError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { fixtureJson, readFixture } from './__fixtures__/index.js';
import { createOpenAIError, extractOpenAIError } from './openai-error.js';

describe('extractOpenAIError', () => {
  it('reads message, type, code and param from OpenAI’s error body', () => {
    expect(extractOpenAIError(fixtureJson('error-400-empty-messages.json'))).toEqual({
      message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      type: 'invalid_request_error',
      code: 'empty_array',
      param: 'messages',
    });
  });

  it('keeps null codes and params as null', () => {
    expect(extractOpenAIError(fixtureJson('error-500-server.json'))).toEqual({
      message: 'The server had an error while processing your request. Sorry about that!',
      type: 'server_error',
      code: null,
      param: null,
    });
  });

  it('reads the bare-string variant and numeric codes some compatible servers send', () => {
    expect(extractOpenAIError({ error: 'model is overloaded' })).toEqual({ message: 'model is overloaded' });
    expect(extractOpenAIError({ error: { message: 'Too many requests', code: 429 } })).toEqual({ message: 'Too many requests', type: undefined, code: '429', param: null });
    expect(extractOpenAIError({ object: 'error', error: { message: 'x', type: 'invalid_request_error', extra: 1 } })?.message).toBe('x');
  });

  it('answers undefined for bodies that are not OpenAI errors', () => {
    expect(extractOpenAIError({ message: 'no error field' })).toBeUndefined();
    expect(extractOpenAIError({ error: 42 })).toBeUndefined();
    expect(extractOpenAIError('error')).toBeUndefined();
    expect(extractOpenAIError(null)).toBeUndefined();
    expect(extractOpenAIError([{ error: { message: 'in an array' } }])).toBeUndefined();
  });
});

describe('createOpenAIError', () => {
  it('turns an upstream 429 into a retryable rate-limit GatewayError with the wait it asked for', () => {
    const error = createOpenAIError('openai', 429, { 'retry-after': '2', 'x-request-id': 'req_1' }, readFixture('error-429-rate-limit.json'));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      status: 429,
      type: 'tokens',
      code: 'rate_limit_exceeded',
      isRetryable: true,
      retryAfterMs: 2000,
      provider: 'openai',
      upstreamStatus: 429,
    });
    expect(error.message).toMatch(/^Rate limit reached for gpt-4.1-nano/);
    expect(error.upstreamBody).toEqual(fixtureJson('error-429-rate-limit.json'));
  });
});
