import { type Cancellation, GatewayError, isAbortError, isCancellation, type ProviderCallOptions } from '@switchyard/core';
import { Pool, type Dispatcher } from 'undici';
import { malformedResponseError } from './upstream-error.js';

export interface HttpClientOptions {
  /** Provider id, put on errors so fallback and logs know where they came from. */
  provider: string;
  /** Base URL including any path prefix, e.g. `https://api.openai.com/v1`. */
  baseURL: string;
  /** Sent on every request (authentication, API version). */
  headers?: Record<string, string>;
  /** TCP + TLS connect deadline. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Deadline for the response headers. Non-streamed completions send headers only when the whole answer
   * is ready, so this must cover the slowest generation. Default 10 minutes.
   */
  firstByteTimeoutMs?: number;
  /** Longest silence between two body chunks. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Keep-alive connections per origin. Default 256. */
  connections?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface JsonUpstreamResponse {
  readonly status: number;
  /** Built from the raw header list when first read: a successful answer's headers are seldom wanted. */
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: unknown;
  /** The body as received, which `json` was parsed from. */
  readonly bytes: Buffer;
}

/** `JsonUpstreamResponse` with its headers made on first read (about a microsecond for a real provider's twenty). */
class JsonAnswer implements JsonUpstreamResponse {
  readonly status: number;
  readonly json: unknown;
  readonly bytes: Buffer;
  #rawHeaders: Buffer[] | undefined;
  #headers: Record<string, string | string[] | undefined> | undefined = undefined;

  constructor(status: number, rawHeaders: Buffer[], json: unknown, bytes: Buffer) {
    this.status = status;
    this.#rawHeaders = rawHeaders;
    this.json = json;
    this.bytes = bytes;
  }

  get headers(): Record<string, string | string[] | undefined> {
    if (this.#headers === undefined) {
      this.#headers = headersFromRaw(this.#rawHeaders!);
      this.#rawHeaders = undefined;
    }
    return this.#headers;
  }
}

export interface UpstreamRequestOptions {
  method: 'GET' | 'POST';
  /** Path below the base URL, with its query string, e.g. `/chat/completions`. */
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Aborts the request. One of `signal` and `cancellation` is needed; `upstreamAbort` picks from a provider call. */
  signal?: AbortSignal;
  /** Aborts the request; the JSON path listens to it without making an AbortSignal. */
  cancellation?: Cancellation;
}

/**
 * The abort of a provider call, for an upstream request: the call's cancellation when the gateway gave
 * one (reading `signal` would make the AbortSignal the JSON path does without), otherwise its signal.
 */
export function upstreamAbort(callOptions: Pick<ProviderCallOptions, 'signal' | 'cancellation'>): Pick<UpstreamRequestOptions, 'signal' | 'cancellation'> {
  return callOptions.cancellation ? { cancellation: callOptions.cancellation } : { signal: callOptions.signal };
}

/** What aborts the request: its cancellation when it has one, otherwise its signal. */
function abortSourceOf(options: UpstreamRequestOptions): Cancellation | AbortSignal {
  const source = options.cancellation ?? options.signal;
  if (source === undefined) throw new TypeError('An upstream request needs a signal or a cancellation.');
  return source;
}

/** For APIs that take only AbortSignals: a cancellation's signal is made now. */
function signalOf(options: UpstreamRequestOptions): AbortSignal {
  const source = abortSourceOf(options);
  return isCancellation(source) ? source.signal : source;
}

/**
 * One keep-alive pool per upstream origin, on undici's `Pool.request`: the lowest-overhead HTTP client in
 * Node. Transport failures become GatewayErrors here, so every adapter reports them the same way.
 */
export class HttpClient {
  readonly provider: string;
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #headers: Record<string, string>;

  constructor(options: HttpClientOptions) {
    this.provider = options.provider;
    const url = new URL(options.baseURL);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#headers = { 'content-type': 'application/json', accept: 'application/json', ...options.headers };
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 256,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      headersTimeout: options.firstByteTimeoutMs ?? 600_000,
      bodyTimeout: options.idleTimeoutMs ?? 300_000,
      keepAliveTimeout: 30_000,
    });
  }

  async request(options: UpstreamRequestOptions): Promise<UpstreamResponse> {
    try {
      const response = await this.#pool.request({
        method: options.method,
        path: this.#basePath + options.path,
        headers: options.headers ? { ...this.#headers, ...options.headers } : this.#headers,
        body: options.body,
        signal: signalOf(options),
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      throw transportError(error, this.provider);
    }
  }

  /**
   * Like `request`, for calls whose error answers the adapter maps itself: an HTTP error status is read and
   * thrown as `toError(status, headers, bodyText)`.
   */
  async requestOk(
    options: UpstreamRequestOptions,
    toError: (status: number, headers: UpstreamResponse['headers'], bodyText: string) => unknown,
  ): Promise<UpstreamResponse> {
    const response = await this.request(options);
    if (response.status >= 400) {
      const bodyText = await readText(response.body).catch(() => '');
      throw toError(response.status, response.headers, bodyText);
    }
    return response;
  }

  /**
   * A request whose answer is read whole and parsed as JSON: the non-streamed path of every adapter. It
   * runs on the pool's `dispatch` with a handler that collects the bytes, rather than on `request`, which
   * wraps each answer in a Node Readable, an async resource and an iterator; for the small answers of chat
   * completions those were a fifth of the upstream call's CPU. Same outcomes as `requestOk` followed by
   * `readJsonBody`: an HTTP error status becomes `toError(status, headers, bodyText)`, a transport failure
   * a gateway error, a body that is not JSON a malformed answer.
   */
  requestJson(
    options: UpstreamRequestOptions,
    toError: (status: number, headers: UpstreamResponse['headers'], bodyText: string) => unknown,
    what = 'the body',
  ): Promise<JsonUpstreamResponse> {
    return new Promise((resolve, reject) => {
      const handler = new JsonResponseHandler(this.provider, abortSourceOf(options), what, toError, resolve, reject);
      if (!handler.listen()) return;
      this.#pool.dispatch(
        {
          method: options.method,
          path: this.#basePath + options.path,
          headers: options.headers ? { ...this.#headers, ...options.headers } : this.#headers,
          body: options.body,
        },
        handler,
      );
    });
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** Maps undici's transport failures (timeouts, refused or reset connections) to gateway errors. */
export function transportError(error: unknown, provider: string): unknown {
  if (GatewayError.isInstance(error) || isAbortError(error)) return error;
  const code = (error as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connecting' : code === 'UND_ERR_HEADERS_TIMEOUT' ? 'waiting for the first byte' : 'waiting for more data';
    return new GatewayError({
      message: `The upstream provider '${provider}' timed out ${what}.`,
      status: 504,
      type: 'timeout_error',
      code: 'upstream_timeout',
      isRetryable: true,
      provider,
      cause: error,
    });
  }
  // A connection the upstream closed or reset may have carried half an answer: "could not reach" would
  // send whoever reads the logs looking for a network outage.
  const lost = code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
  const what = lost ? `The connection to the upstream provider '${provider}' was closed unexpectedly` : `Could not reach the upstream provider '${provider}'`;
  return new GatewayError({
    message: `${what}${code ? ` (${code})` : ''}.`,
    status: 502,
    type: 'api_error',
    code: 'upstream_unreachable',
    isRetryable: true,
    provider,
    cause: error,
  });
}

/** Reads a whole body as text, refusing more than `maxBytes` (an upstream error page can be huge). */
export async function readText(body: AsyncIterable<Buffer>, maxBytes = 1024 * 1024): Promise<string> {
  if (isReadableStream(body)) return readStreamText(body, maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface ReadableBody {
  readonly readable: boolean;
  readonly destroyed: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  destroy(error?: Error): unknown;
}

/** A Node stream that has not started flowing, ended or failed: its events are all still to come. */
function isReadableStream(body: unknown): body is ReadableBody {
  const candidate = body as Partial<ReadableBody> | null;
  return typeof candidate?.on === 'function' && typeof candidate.destroy === 'function' && candidate.readable === true && candidate.destroyed === false;
}

/**
 * `readText` for Node streams (undici's bodies) through events: `for await` builds an async iterator,
 * a promise per chunk and an end-of-stream watcher, a measurable share of a proxied request's CPU.
 * Same outcomes: the text up to `maxBytes` (the body destroyed when there is more), stream errors
 * rejected, and a body closed before its end rejected as a premature close.
 */
function readStreamText(body: ReadableBody, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    body.on('data', (chunk) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        settled = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
        body.destroy();
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    body.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    body.on('close', () => {
      if (settled) return;
      settled = true;
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

/**
 * Reads a successful answer's body as JSON. A connection lost while reading is a transport error, a body
 * that is not JSON a malformed answer: every adapter reports both the same way.
 */
export async function readJsonBody(body: AsyncIterable<Buffer>, provider: string, what = 'the body', maxBytes = 64 * 1024 * 1024): Promise<unknown> {
  const text = await readText(body, maxBytes).catch((error: unknown) => {
    throw transportError(error, provider);
  });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw malformedResponseError(provider, `${what} is not JSON`, error);
  }
}

/** Largest successful JSON answer accepted, and largest error body read (an error page can be huge). */
const maxJsonBytes = 64 * 1024 * 1024;
const maxErrorBytes = 1024 * 1024;

/**
 * undici's dispatch handler for `HttpClient.requestJson`: collects the body and settles once. An abort
 * (of the cancellation, or the signal when only that was given) aborts the request, before or after it
 * reached the socket, like `Pool.request` does.
 */
class JsonResponseHandler implements Dispatcher.DispatchHandler {
  readonly #provider: string;
  readonly #abortedBy: Cancellation | AbortSignal;
  readonly #what: string;
  readonly #toError: (status: number, headers: UpstreamResponse['headers'], bodyText: string) => unknown;
  readonly #resolve: (response: JsonUpstreamResponse) => void;
  readonly #reject: (error: unknown) => void;
  #abort: ((reason?: Error) => void) | undefined;
  #status = 0;
  #rawHeaders: Buffer[] = [];
  #chunks: Buffer[] = [];
  #bytes = 0;
  #settled = false;
  readonly #onAbort = (): void => {
    if (this.#abort) this.#abort(this.#abortedBy.reason as Error);
  };

  constructor(
    provider: string,
    abortedBy: Cancellation | AbortSignal,
    what: string,
    toError: (status: number, headers: UpstreamResponse['headers'], bodyText: string) => unknown,
    resolve: (response: JsonUpstreamResponse) => void,
    reject: (error: unknown) => void,
  ) {
    this.#provider = provider;
    this.#abortedBy = abortedBy;
    this.#what = what;
    this.#toError = toError;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** False (and rejected) when already aborted: nothing is sent then. */
  listen(): boolean {
    const abortedBy = this.#abortedBy;
    if (abortedBy.aborted) {
      this.#settle(undefined, abortedBy.reason);
      return false;
    }
    if (isCancellation(abortedBy)) abortedBy.subscribe(this.#onAbort);
    else abortedBy.addEventListener('abort', this.#onAbort, { once: true });
    return true;
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.#abortedBy.aborted) abort(this.#abortedBy.reason as Error);
    else this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.#status = statusCode;
    this.#rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    const limit = this.#status >= 400 ? maxErrorBytes : maxJsonBytes;
    if (this.#bytes > limit) {
      if (this.#status >= 400) return true; // the error's first megabyte is enough to read it
      this.#abort?.(malformedResponseError(this.#provider, `${this.#what} is larger than ${maxJsonBytes} bytes`));
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    const bytes = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const text = bytes.toString('utf8');
    if (this.#status >= 400) {
      this.#settle(undefined, this.#toError(this.#status, headersFromRaw(this.#rawHeaders), text));
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      this.#settle(undefined, malformedResponseError(this.#provider, `${this.#what} is not JSON`, error));
      return;
    }
    this.#settle(new JsonAnswer(this.#status, this.#rawHeaders, json, bytes), undefined);
  }

  onError(error: Error): void {
    this.#settle(undefined, transportError(error, this.#provider));
  }

  #settle(response: JsonUpstreamResponse | undefined, error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const abortedBy = this.#abortedBy;
    if (isCancellation(abortedBy)) abortedBy.unsubscribe(this.#onAbort);
    else abortedBy.removeEventListener('abort', this.#onAbort);
    if (response) this.#resolve(response);
    else this.#reject(error);
  }
}

/** undici's raw `[name, value, …]` header list as an object: lower-case names, repeated ones as arrays. */
function headersFromRaw(rawHeaders: Buffer[]): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!.toString('latin1').toLowerCase();
    const value = rawHeaders[index + 1]!.toString('latin1');
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  return headers;
}
