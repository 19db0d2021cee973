import type { Cancellation } from './cancellation.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingRequest,
  EmbeddingResponse,
} from './wire/openai-types.js';

/**
 * The provider spec: what an adapter implements so the gateway can serve a model through it.
 *
 * An adapter receives canonical OpenAI requests and returns canonical OpenAI responses; all translation
 * of wire formats, streams, tools, usage and errors happens inside it. Failures are thrown as
 * `GatewayError` with `isRetryable` set, so retry and fallback plugins can decide without knowing the
 * provider.
 */
export interface ProviderV1 {
  /** Bumped when the contract changes incompatibly; the gateway refuses providers it does not know. */
  readonly specificationVersion: 'v1';
  /** Unique id, used as the `provider/` prefix in model names (e.g. `openai`, `anthropic`). */
  readonly id: string;
  /**
   * Prefixes of bare model names this provider serves (e.g. `claude-` for Anthropic). A request for
   * `claude-sonnet-4-5` with no `provider/` resolves to the first provider whose prefix matches.
   */
  readonly modelPrefixes?: readonly string[];

  /**
   * Runs a chat completion. When `request.stream` is true the result must be a stream; adapters must end
   * every stream with a usage chunk (`choices: []`, `usage` set) whether the client asked for usage or
   * not — the gateway needs it for billing and removes it when the client did not ask.
   */
  chat(modelId: string, request: ChatCompletionRequest, options: ProviderCallOptions): Promise<ChatResult>;

  /** Creates embeddings. Omit when the provider has none: the gateway answers 400 for it. */
  embeddings?(modelId: string, request: EmbeddingRequest, options: ProviderCallOptions): Promise<EmbeddingResponse>;

  /** Lists the models this provider serves, ids without the provider prefix. */
  listModels?(options: { signal: AbortSignal }): Promise<ProviderModel[]>;

  /** Releases connections. Called once when the gateway closes. */
  close?(): Promise<void>;
}

export interface ProviderCallOptions {
  /** Aborted when the client disconnects or a deadline passes: adapters must stop the upstream call. */
  signal: AbortSignal;
  /**
   * The same abort as `signal`, when the gateway calls. Listening through it rather than `signal` spares
   * the request an AbortSignal (the gateway makes `signal` only when it is read; see `Cancellation`).
   */
  cancellation?: Cancellation;
  /** The gateway's request id, for upstream correlation headers and logs. */
  requestId: string;
  /** Extra upstream headers a plugin asks for (e.g. a per-request trace header). */
  headers?: Record<string, string>;
}

export interface ProviderModel {
  id: string;
  created?: number;
  ownedBy?: string;
  contextWindow?: number;
  maxOutputTokens?: number;
}

/** What a provider returns: one whole response, or a stream of chunks. */
export type ChatResult = ChatResponseResult | ChatStreamResult;

export interface ChatResponseResult {
  type: 'response';
  response: ChatCompletion;
  /**
   * `response` as JSON, text or UTF-8 bytes, when the provider has it already: the upstream's own body,
   * when it needed no normalising. The gateway sends it (and hands it to `responseJson()`) instead of
   * serialising `response` again. It must be the JSON of `response`; a wrapper that changes the
   * response drops it.
   */
  json?: string | Uint8Array;
}

export interface ChatStreamResult {
  type: 'stream';
  /**
   * Chunks in OpenAI's shape. Iteration stops the upstream call when the consumer returns early
   * (a `return()` on the iterator), so a disconnecting client never leaves an upstream stream running.
   */
  stream: AsyncIterable<ChatCompletionChunk>;
}

export function isProvider(value: unknown): value is ProviderV1 {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as ProviderV1).specificationVersion === 'v1' &&
    typeof (value as ProviderV1).id === 'string' &&
    typeof (value as ProviderV1).chat === 'function'
  );
}
