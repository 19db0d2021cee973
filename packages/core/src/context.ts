import type { IncomingHttpHeaders } from 'node:http';
import type { Cancellation } from './cancellation.js';
import type { Logger } from './logger.js';
import type { ProviderV1 } from './provider.js';
import type { ChatCompletionRequest, EmbeddingRequest } from './wire/openai-types.js';

/**
 * Per-request state shared between plugins. Empty here: each plugin adds its own namespace by
 * declaration merging, so `context.state.billing` is typed wherever the billing plugin is imported:
 *
 * ```ts
 * declare module '@switchyard/core' {
 *   interface RequestState { billing?: { keyId: string } }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RequestState {}

/** Which endpoint a request came through. */
export type Operation = 'chat' | 'embeddings' | 'models';

/** A resolved model: which provider serves it and under which id. */
export interface Target {
  provider: ProviderV1;
  /** The model id as the provider knows it, e.g. `gpt-4o-mini`. */
  modelId: string;
  /** The gateway-wide name, `provider/model`. */
  model: string;
}

/** One call to a provider. Wrappers that retry or fall back make several per request. */
export interface UpstreamAttempt {
  model: string;
  provider: string;
  startedAt: number;
  durationMs?: number;
  /** HTTP status of the attempt's outcome (200 on success). */
  status?: number;
  errorType?: string;
}

export interface RequestContext<Body = ChatCompletionRequest | EmbeddingRequest | undefined> {
  /** `x-request-id`: the client's, when it sent a sane one, otherwise generated. */
  readonly id: string;
  readonly operation: Operation;
  /** The validated request body. Plugins may rewrite it before the upstream call. */
  body: Body;
  /** Incoming headers, lower-cased by Node. */
  readonly headers: IncomingHttpHeaders;
  readonly clientIp: string;
  /**
   * Aborted when the client disconnects or the gateway shuts down past its drain deadline. Listening
   * through `cancellation.subscribe` costs next to nothing; `signal` (the same abort as an AbortSignal)
   * is made when first read, for APIs that need one.
   */
  readonly cancellation: Cancellation;
  /** `cancellation.signal`: a real AbortSignal, made on first use. */
  readonly signal: AbortSignal;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Plugin-owned state; see `RequestState`. */
  readonly state: RequestState;
  /** The model that will serve (or served) the request. A plugin may set it in `onRequest`. */
  target: Target | undefined;
  /** Every upstream call made for this request, in order. */
  readonly attempts: UpstreamAttempt[];
  /** Milliseconds from arrival to the first chunk sent to the client (streams only). */
  timeToFirstChunkMs: number | undefined;
  readonly logger: Logger;
  /** Sets a response header. Ignored once headers are sent (a stream already started). */
  setHeader(name: string, value: string): void;
  /** Resolves a model name (`provider/model`, alias or bare name) the way the gateway does. */
  resolveModel(model: string): Target;
}

export type ChatContext = RequestContext<ChatCompletionRequest>;
export type EmbeddingsContext = RequestContext<EmbeddingRequest>;
