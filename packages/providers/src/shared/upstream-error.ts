import { GatewayError, parseRetryAfter } from '@switchyard/core';

/** What an adapter extracts from its provider's error body. */
export interface ProviderErrorDetails {
  message?: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

/** OpenAI error types by client-facing status, for providers whose bodies carry none of their own. */
const typeForStatus: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

/**
 * Maps an upstream HTTP error to the status a client of an OpenAI API expects:
 * client errors keep their status (the SDK's error classes depend on it); 529 "overloaded" becomes 503;
 * other unusual 5xx statuses become 502. Retryable: 408, 409, 429, 5xx — the cases where trying again
 * later or elsewhere can succeed.
 */
export function clientStatusFor(upstreamStatus: number): number {
  if (upstreamStatus === 529) return 503;
  if (upstreamStatus >= 400 && upstreamStatus < 500) return upstreamStatus;
  if (upstreamStatus === 500 || upstreamStatus === 502 || upstreamStatus === 503 || upstreamStatus === 504) return upstreamStatus;
  return 502;
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

export function createUpstreamError(options: {
  provider: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bodyText: string;
  /** Pulls message/type/code out of the provider's parsed error body. */
  extract: (body: unknown) => ProviderErrorDetails | undefined;
}): GatewayError {
  const { provider, status, headers, bodyText } = options;
  let parsed: unknown;
  try {
    parsed = bodyText === '' ? undefined : JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const details = parsed === undefined ? undefined : options.extract(parsed);
  const clientStatus = clientStatusFor(status);
  const message =
    details?.message ??
    `The upstream provider '${provider}' answered HTTP ${status}${bodyText ? `: ${bodyText.slice(0, 200)}` : ''}.`;
  const type = details?.type ?? typeForStatus[clientStatus] ?? (clientStatus === 503 ? 'service_unavailable' : 'api_error');
  return new GatewayError({
    message,
    status: clientStatus,
    type,
    code: details?.code ?? null,
    param: details?.param ?? null,
    isRetryable: isRetryableStatus(status),
    retryAfterMs: parseRetryAfter(headers),
    provider,
    upstreamStatus: status,
    upstreamBody: parsed ?? bodyText.slice(0, 2000),
  });
}

/** An upstream answered 2xx with a body that is not what its API promises. */
export function malformedResponseError(provider: string, detail: string, cause?: unknown): GatewayError {
  return new GatewayError({
    message: `The upstream provider '${provider}' sent a malformed response: ${detail}.`,
    status: 502,
    type: 'api_error',
    code: 'bad_upstream_response',
    isRetryable: true,
    provider,
    cause,
  });
}

/** An upstream stream that ended before every answer had finished: cut off, never a complete answer. */
export function truncatedStreamError(provider: string): GatewayError {
  return new GatewayError({
    message: `The upstream provider '${provider}' ended the stream before the answer was complete.`,
    status: 502,
    type: 'api_error',
    code: 'upstream_stream_truncated',
    isRetryable: true,
    provider,
  });
}
