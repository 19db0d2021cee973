import { GatewayError } from '@switchyard/core';
import { createUpstreamError, type ProviderErrorDetails } from '../shared/upstream-error.js';
import { geminiErrorSchema, type GeminiWireError } from './gemini-api.js';

/*
 * Google's errors (`{"error":{"code","message","status","details"}}`) → OpenAI errors with the status an
 * OpenAI SDK maps to the right class. Google-specific facts that matter to clients and to retry logic:
 * - a bad API key is `400 INVALID_ARGUMENT` with reason `API_KEY_INVALID`: clients expect 401;
 * - `429 RESOURCE_EXHAUSTED` says when to retry in a `RetryInfo` detail, not in a header;
 * - a prompt over the context window is a plain 400 whose message says so;
 * - `streamGenerateContent` sends its errors with `content-type: text/event-stream`, sometimes framed
 *   as an event, and without `alt=sse` as a one-element array.
 */

const googleStatusTypes: Record<string, string> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  OUT_OF_RANGE: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'not_found_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  INTERNAL: 'server_error',
  UNAVAILABLE: 'service_unavailable',
  DEADLINE_EXCEEDED: 'timeout_error',
};

const contextWindowPattern = /input token count.*exceeds|exceeds the maximum number of tokens/i;
const modelNotFoundPattern = /models\/\S+ is not found|model .* not found/i;

interface GeminiErrorDetails extends ProviderErrorDetails {
  /** From a `google.rpc.RetryInfo` detail. */
  retryAfterMs?: number;
  /** `google.rpc.ErrorInfo` reason, e.g. `API_KEY_INVALID`. */
  reason?: string;
}

/** Parses the error out of a body: the object, a one-element array of it, or an SSE-framed event. */
export function parseGeminiErrorBody(body: unknown): GeminiWireError | undefined {
  const candidate = Array.isArray(body) ? body[0] : body;
  const parsed = geminiErrorSchema.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

export function extractGeminiError(body: unknown): GeminiErrorDetails | undefined {
  const parsed = parseGeminiErrorBody(body);
  if (!parsed) return undefined;
  const error = parsed.error;
  const details: GeminiErrorDetails = {};
  if (error.message) details.message = error.message;
  for (const detail of error.details ?? []) {
    const type = detail['@type'] ?? '';
    if (type.endsWith('google.rpc.RetryInfo') && detail.retryDelay) details.retryAfterMs = parseDuration(detail.retryDelay);
    if (type.endsWith('google.rpc.ErrorInfo') && detail.reason) details.reason = detail.reason;
  }
  if (details.reason === 'API_KEY_INVALID' || error.status === 'UNAUTHENTICATED') {
    details.type = 'authentication_error';
    details.code = 'invalid_api_key';
  } else if (error.status === 'RESOURCE_EXHAUSTED') {
    details.type = 'rate_limit_error';
    details.code = 'rate_limit_exceeded';
  } else if (error.message && contextWindowPattern.test(error.message)) {
    details.type = 'invalid_request_error';
    details.code = 'context_length_exceeded';
  } else if (error.status === 'NOT_FOUND' && error.message && modelNotFoundPattern.test(error.message)) {
    details.type = 'invalid_request_error';
    details.code = 'model_not_found';
    details.param = 'model';
  } else {
    if (error.status && googleStatusTypes[error.status]) details.type = googleStatusTypes[error.status];
    if (error.status) details.code = error.status.toLowerCase();
  }
  return details;
}

/** A protobuf Duration in its JSON form (`"34.4s"`, `"1s"`, `"0.250s"`) in milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * 1000);
}

/** Strips SSE framing (`data: …`) from an error body sent as an event stream. */
function unframe(bodyText: string): string {
  const trimmed = bodyText.trimStart();
  if (!trimmed.startsWith('data:')) return bodyText;
  return trimmed
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trimStart())
    .join('\n');
}

export function createGeminiError(
  provider: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): GatewayError {
  const text = unframe(bodyText);
  let extracted: GeminiErrorDetails | undefined;
  const error = createUpstreamError({
    provider,
    status,
    headers,
    bodyText: text,
    extract: (body) => (extracted = extractGeminiError(body)),
  });
  const authentication = extracted?.type === 'authentication_error';
  const retryAfterMs = error.retryAfterMs ?? extracted?.retryAfterMs;
  if (!authentication && retryAfterMs === error.retryAfterMs) return error;
  // The shared mapping keys on the HTTP status; Google's body says more (a bad key arrives as 400,
  // the retry delay in the body). Rebuild the error with those facts.
  return new GatewayError({
    message: error.message,
    status: authentication ? 401 : error.status,
    type: error.type,
    code: error.code,
    param: error.param,
    isRetryable: authentication ? false : error.isRetryable,
    retryAfterMs,
    provider,
    upstreamStatus: status,
    upstreamBody: error.upstreamBody,
  });
}
