import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOpenAISchemaValidators } from '../test-utils/openai-schema.js';
import { createGeminiError, extractGeminiError, parseDuration } from './gemini-error.js';
import { mapGeminiFinishReason } from './map-gemini-finish-reason.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '__fixtures__', name), 'utf8');
const validators = loadOpenAISchemaValidators();

describe('createGeminiError', () => {
  it('maps 429 RESOURCE_EXHAUSTED with RetryInfo to a retryable rate limit with the delay', () => {
    const error = createGeminiError('gemini', 429, {}, fixture('gemini-error-429-retry-info.json'));
    expect(error).toMatchObject({
      status: 429,
      type: 'rate_limit_error',
      code: 'rate_limit_exceeded',
      isRetryable: true,
      retryAfterMs: 41_700,
      provider: 'gemini',
      upstreamStatus: 429,
      message: 'Resource has been exhausted (e.g. check quota).',
    });
    if (validators) expect(validators.error(error.toJSON())).toEqual([]);
  });

  it('prefers a retry-after header over RetryInfo', () => {
    expect(createGeminiError('gemini', 429, { 'retry-after': '3' }, fixture('gemini-error-429-retry-info.json')).retryAfterMs).toBe(3000);
  });

  it('turns an invalid API key (400 with API_KEY_INVALID) into a 401', () => {
    expect(createGeminiError('gemini', 400, {}, fixture('gemini-error-400-api-key.json'))).toMatchObject({
      status: 401,
      type: 'authentication_error',
      code: 'invalid_api_key',
      isRetryable: false,
      upstreamStatus: 400,
    });
  });

  it('names a missing model and a prompt over the context window the way OpenAI does', () => {
    expect(createGeminiError('gemini', 404, {}, fixture('gemini-error-404-model.json'))).toMatchObject({
      status: 404,
      type: 'invalid_request_error',
      code: 'model_not_found',
      param: 'model',
      isRetryable: false,
    });
    expect(createGeminiError('gemini', 400, {}, fixture('gemini-error-400-context.json'))).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
    });
  });

  it('keeps 503 retryable and reads the error out of SSE framing and array bodies', () => {
    const overloaded = fixture('gemini-error-503-overloaded.json');
    expect(createGeminiError('gemini', 503, {}, overloaded)).toMatchObject({ status: 503, type: 'service_unavailable', code: 'unavailable', isRetryable: true });
    const framed = `data: ${JSON.stringify(JSON.parse(overloaded))}\r\n\r\n`;
    expect(createGeminiError('gemini', 503, {}, framed).message).toBe('The model is overloaded. Please try again later.');
    expect(createGeminiError('gemini', 503, {}, `[${overloaded}]`).message).toBe('The model is overloaded. Please try again later.');
  });

  it('still answers for bodies that are not Google errors', () => {
    expect(createGeminiError('gemini', 502, {}, '<html>Bad Gateway</html>')).toMatchObject({ status: 502, isRetryable: true });
    expect(createGeminiError('gemini', 400, {}, '')).toMatchObject({ status: 400, type: 'invalid_request_error', isRetryable: false });
  });
});

describe('extractGeminiError', () => {
  it('uses the Google status as the code when nothing more specific applies', () => {
    expect(extractGeminiError({ error: { code: 403, message: 'denied', status: 'PERMISSION_DENIED' } })).toEqual({ message: 'denied', type: 'permission_error', code: 'permission_denied' });
    expect(extractGeminiError({ nothing: true })).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it('reads protobuf durations', () => {
    expect(parseDuration('34.4s')).toBe(34_400);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('0.250s')).toBe(250);
    expect(parseDuration('soon')).toBeUndefined();
  });
});

describe('mapGeminiFinishReason', () => {
  it('maps stops, limits, filters and tool calls', () => {
    expect(mapGeminiFinishReason('STOP', false)).toBe('stop');
    expect(mapGeminiFinishReason('STOP', true)).toBe('tool_calls');
    expect(mapGeminiFinishReason('MAX_TOKENS', true)).toBe('length');
    for (const reason of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']) expect(mapGeminiFinishReason(reason, false)).toBe('content_filter');
    expect(mapGeminiFinishReason('MALFORMED_FUNCTION_CALL', false)).toBe('stop');
    expect(mapGeminiFinishReason(undefined, false)).toBeNull();
  });
});
