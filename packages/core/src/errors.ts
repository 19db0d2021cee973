import type { OpenAIErrorBody } from './wire/openai-types.js';

/**
 * A brand on every GatewayError. `instanceof` on a class breaks when two copies of this package are
 * installed (a plugin bundling its own core, say); a registered symbol is the same in every copy.
 */
const gatewayErrorBrand = Symbol.for('switchyard.gateway-error');

/** The OpenAI error `type` values the gateway emits. */
export type GatewayErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'api_error'
  | 'timeout_error'
  | 'service_unavailable'
  | (string & {});

export interface GatewayErrorOptions {
  message: string;
  /** HTTP status sent to the client. */
  status: number;
  /** OpenAI error type, e.g. `invalid_request_error`. */
  type: GatewayErrorType;
  /** OpenAI error code, e.g. `model_not_found`. */
  code?: string | null;
  /** The request field the error is about, e.g. `messages[0].role`. */
  param?: string | null;
  /** Whether trying again (maybe elsewhere) can succeed: 429, 5xx, timeouts, connection errors. */
  isRetryable?: boolean;
  /** How long the upstream asked us to wait before retrying. */
  retryAfterMs?: number;
  /** Provider id the error came from, when it came from one. */
  provider?: string;
  /** The raw upstream HTTP status, when the error came from an upstream response. */
  upstreamStatus?: number;
  /** The upstream error body as received, for logs; never sent to clients as is. */
  upstreamBody?: unknown;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly [gatewayErrorBrand] = true;
  readonly status: number;
  readonly type: GatewayErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly isRetryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly provider: string | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamBody: unknown;

  constructor(options: GatewayErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.status = options.status;
    this.type = options.type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.isRetryable = options.isRetryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.provider = options.provider;
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamBody = options.upstreamBody;
  }

  /** Works across duplicate copies of this package. */
  static isInstance(value: unknown): value is GatewayError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[gatewayErrorBrand] === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return GatewayError.isInstance(value);
  }

  /** The OpenAI-shaped body sent to clients. */
  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static invalidRequest(message: string, param: string | null = null, code: string | null = null): GatewayError {
    return new GatewayError({ message, status: 400, type: 'invalid_request_error', param, code });
  }

  static modelNotFound(model: string): GatewayError {
    return new GatewayError({
      message: `The model '${model}' does not exist or is not served by this gateway. Use 'provider/model' or a configured alias; GET /v1/models lists them.`,
      status: 404,
      type: 'invalid_request_error',
      param: 'model',
      code: 'model_not_found',
    });
  }

  static authentication(message: string, code = 'invalid_api_key'): GatewayError {
    return new GatewayError({ message, status: 401, type: 'authentication_error', code });
  }

  static permission(message: string, code: string | null = null, param: string | null = null): GatewayError {
    return new GatewayError({ message, status: 403, type: 'permission_error', code, param });
  }

  static rateLimited(message: string, retryAfterMs?: number, code = 'rate_limit_exceeded'): GatewayError {
    return new GatewayError({
      message,
      status: 429,
      type: code === 'insufficient_quota' ? 'insufficient_quota' : 'rate_limit_error',
      code,
      retryAfterMs,
    });
  }

  static timeout(message: string, provider?: string): GatewayError {
    return new GatewayError({ message, status: 504, type: 'timeout_error', code: 'upstream_timeout', isRetryable: true, provider });
  }

  static badGateway(message: string, provider?: string, cause?: unknown): GatewayError {
    return new GatewayError({ message, status: 502, type: 'api_error', code: 'bad_gateway', isRetryable: true, provider, cause });
  }

  static internal(message = 'The gateway failed to process the request.', cause?: unknown): GatewayError {
    return new GatewayError({ message, status: 500, type: 'server_error', code: 'internal_error', cause });
  }
}

/**
 * Turns anything thrown into a GatewayError. Unknown errors become a 500 whose message does not leak
 * internals; the original stays on `cause` for the logs.
 */
export function toGatewayError(error: unknown): GatewayError {
  if (GatewayError.isInstance(error)) return error;
  if (isAbortError(error)) {
    return new GatewayError({ message: 'The request was cancelled.', status: 499, type: 'invalid_request_error', code: 'request_cancelled', cause: error });
  }
  return GatewayError.internal(undefined, error);
}

export function isAbortError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const name = (error as { name?: unknown }).name;
  return name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR';
}

/** Parses `retry-after-ms` or `retry-after` (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.trim();
  const milliseconds = first(headers['retry-after-ms']);
  if (milliseconds) {
    const parsed = Number(milliseconds);
    if (Number.isFinite(parsed) && parsed >= 0) return parsed;
  }
  const retryAfter = first(headers['retry-after']);
  if (!retryAfter) return undefined;
  const seconds = Number(retryAfter);
  // A number is never a date: Date.parse('-1') would read it as the year -1 and yield 0 ms.
  if (!Number.isNaN(seconds)) return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(retryAfter);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}
