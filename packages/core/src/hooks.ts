import type { Cancellation } from './cancellation.js';
import type { ChatContext, RequestContext, Target } from './context.js';
import type { GatewayError } from './errors.js';
import type { ChatResult } from './provider.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  CompletionUsage,
  EmbeddingResponse,
} from './wire/openai-types.js';

/*
 * Every hook a plugin can implement, and what each one may do. This file is the whole list: the
 * pipeline calls nothing else, so a reader can see every way a plugin can change a request here.
 *
 *   hook          | when                                 | power
 *   --------------|--------------------------------------|-------------------------------------------
 *   setup         | once, at gateway creation            | register routes and services
 *   onRequest     | after validation, before the model   | observe, rewrite the body, set the target,
 *                 | is resolved; in registration order   | throw to reject, or answer early (short-circuit)
 *   wrapUpstream  | composed once; runs around every     | wrap the provider call: retry, fall back,
 *                 | chat upstream call                   | coalesce, serve from cache, time out
 *   onChunk       | for each stream chunk, in order,     | replace a chunk, drop it (null) or keep it;
 *                 | synchronously                        | synchronous so the hot path stays a loop
 *   onResponse    | after the whole answer (JSON: before | observe the aggregated answer and usage; on
 *                 | it is sent; stream: after [DONE])    | JSON may still set headers. Failures are logged
 *   onError       | when the request fails               | observe only. Failures are logged
 *   onClose       | once, when the gateway closes        | flush and release resources
 */

export const hookNames = ['setup', 'onRequest', 'wrapUpstream', 'onChunk', 'onResponse', 'onError', 'onClose'] as const;
export type HookName = (typeof hookNames)[number];

/** A request to a provider, as passed through the `wrapUpstream` chain. */
export interface UpstreamRequest {
  context: ChatContext;
  /** Which provider and model to call. A fallback wrapper calls `next` with other targets. */
  target: Target;
  /** The body sent to the provider. */
  body: ChatCompletionRequest;
  /**
   * Aborts this attempt: the request's own (`context.cancellation`) unless a wrapper narrowed it. To add a
   * per-attempt timeout, pass `new Cancellation(request.cancellation)` and abort that; `.signal` gives an
   * AbortSignal when an API needs one.
   */
  cancellation: Cancellation;
}

/** The result of an upstream call, with the target that produced it. */
export type UpstreamResult = ChatResult & { target: Target };

export type UpstreamCall = (request: UpstreamRequest) => Promise<UpstreamResult>;

/** Wraps the upstream call, like an undici interceptor: `(next) => (request) => next(request)`. */
export type UpstreamWrapper = (next: UpstreamCall) => UpstreamCall;

/** What `onRequest` may return to answer without calling a provider (a cache hit, say). */
export interface EarlyResponse {
  response: ChatCompletion | EmbeddingResponse;
  /** `response` as JSON, text or UTF-8 bytes, when the plugin has it (a cache stores text): sent instead of serialising `response`. */
  json?: string | Uint8Array;
  /** Headers to add to the answer. */
  headers?: Record<string, string>;
}

export interface ChatOutcome {
  operation: 'chat';
  /** The full answer; for streams, aggregated from the chunks that were sent. */
  response: ChatCompletion;
  usage: CompletionUsage | undefined;
  /** Whether the client received it as a stream. */
  streamed: boolean;
  /** The client went away before the end: `response` holds what had been generated. */
  aborted: boolean;
  /** `upstream` when a provider answered, otherwise the name of the plugin that answered early. */
  answeredBy: 'upstream' | (string & {});
  target: Target | undefined;
  durationMs: number;
  /**
   * `response` as JSON, serialised on the first call and shared: a plugin that stores the answer and the
   * gateway sending it make one serialisation between them. For a JSON answer this is the text the
   * client receives (hooks observe the answer; they do not change it).
   */
  responseJson(): string;
}

export interface EmbeddingsOutcome {
  operation: 'embeddings';
  response: EmbeddingResponse;
  usage: EmbeddingResponse['usage'] | undefined;
  streamed: false;
  aborted: false;
  answeredBy: 'upstream' | (string & {});
  target: Target | undefined;
  durationMs: number;
  /**
   * `response` as JSON, serialised on the first call and shared: a plugin that stores the answer and the
   * gateway sending it make one serialisation between them. For a JSON answer this is the text the
   * client receives (hooks observe the answer; they do not change it).
   */
  responseJson(): string;
}

export type ResponseOutcome = ChatOutcome | EmbeddingsOutcome;

export interface ErrorDetails {
  /** For a stream that failed midway: the part of the answer the client had received. */
  partial?: ChatCompletion;
  durationMs: number;
}

type MaybePromise<T> = T | Promise<T>;

export interface PluginHooks {
  onRequest?(context: RequestContext): MaybePromise<EarlyResponse | void | undefined>;
  wrapUpstream?: UpstreamWrapper;
  /** Return a chunk to replace it, `null` to drop it, nothing to keep it. */
  onChunk?(chunk: ChatCompletionChunk, context: ChatContext): ChatCompletionChunk | null | void | undefined;
  onResponse?(context: RequestContext, outcome: ResponseOutcome): MaybePromise<void>;
  onError?(context: RequestContext, error: GatewayError, details: ErrorDetails): MaybePromise<void>;
  onClose?(): MaybePromise<void>;
}
