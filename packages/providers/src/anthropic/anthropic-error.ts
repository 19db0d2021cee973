import { GatewayError } from '@switchyard/core';
import { createUpstreamError, type ProviderErrorDetails } from '../shared/upstream-error.js';
import { anthropicErrorSchema } from './anthropic-api.js';

/**
 * Anthropic's error `type`s in OpenAI's words. OpenAI clients branch on `type` and `code` (and the SDKs on
 * the HTTP status, which the shared mapping keeps), so each Anthropic type gets the pair an OpenAI server
 * would have sent for the same failure.
 */
const openAIErrorFor: Record<string, { type: string; code: string | null }> = {
  invalid_request_error: { type: 'invalid_request_error', code: null },
  authentication_error: { type: 'authentication_error', code: 'invalid_api_key' },
  billing_error: { type: 'insufficient_quota', code: 'insufficient_quota' },
  permission_error: { type: 'permission_error', code: null },
  not_found_error: { type: 'not_found_error', code: null },
  request_too_large: { type: 'invalid_request_error', code: 'request_too_large' },
  rate_limit_error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  api_error: { type: 'server_error', code: null },
  overloaded_error: { type: 'service_unavailable', code: 'overloaded' },
  timeout_error: { type: 'timeout_error', code: 'upstream_timeout' },
};

/** The HTTP status Anthropic uses for each error type: a mid-stream error event carries only the type. */
const statusForType: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

// Anthropic says "prompt is too long: 210000 tokens > 200000 maximum"; OpenAI clients look for this code.
const contextLengthPattern = /prompt is too long|too many (input )?tokens|context window/i;

/** Reads `{"type":"error","error":{"type":…,"message":…}}` into OpenAI's type, code and param. */
export function extractAnthropicError(body: unknown): ProviderErrorDetails | undefined {
  const parsed = anthropicErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const anthropicType = parsed.data.error.type ?? undefined;
  const message = parsed.data.error.message ?? undefined;
  const mapped = anthropicType === undefined ? undefined : openAIErrorFor[anthropicType];
  const details: ProviderErrorDetails = {
    message,
    type: mapped?.type ?? anthropicType,
    code: mapped?.code ?? null,
    param: null,
  };
  if (anthropicType === 'invalid_request_error' && message && contextLengthPattern.test(message)) {
    details.code = 'context_length_exceeded';
    details.param = 'messages';
  }
  // A 404 about the model reads "model: claude-…": OpenAI reports that as `model_not_found` on `model`.
  if (anthropicType === 'not_found_error' && message?.startsWith('model:')) {
    details.type = 'invalid_request_error';
    details.code = 'model_not_found';
    details.param = 'model';
  }
  return details;
}

/**
 * An upstream HTTP error as a GatewayError. Anthropic's `x-should-retry` header, when present, is the
 * upstream's own verdict on retrying and wins over the status-based guess.
 */
export function createAnthropicError(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): GatewayError {
  const error = createUpstreamError({ provider, status, headers, bodyText, extract: extractAnthropicError });
  const shouldRetry = firstHeader(headers['x-should-retry']);
  if (shouldRetry !== 'true' && shouldRetry !== 'false') return error;
  const isRetryable = shouldRetry === 'true';
  if (isRetryable === error.isRetryable) return error;
  return new GatewayError({
    message: error.message,
    status: error.status,
    type: error.type,
    code: error.code,
    param: error.param,
    isRetryable,
    retryAfterMs: error.retryAfterMs,
    provider,
    upstreamStatus: error.upstreamStatus,
    upstreamBody: error.upstreamBody,
  });
}

/** An `event: error` inside a stream: mapped as the HTTP error its type stands for. */
export function createAnthropicStreamError(provider: string, body: unknown): GatewayError {
  const errorType = anthropicErrorSchema.safeParse(body).data?.error.type ?? 'api_error';
  const status = statusForType[errorType] ?? 500;
  return createUpstreamError({ provider, status, headers: {}, bodyText: JSON.stringify(body), extract: extractAnthropicError });
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
