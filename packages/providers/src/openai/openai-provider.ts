import type {
  ChatCompletionChunk,
  CompletionUsage,
  ChatCompletionRequest,
  ChatResult,
  EmbeddingRequest,
  EmbeddingResponse,
  ProviderCallOptions,
  ProviderModel,
  ProviderV1,
} from '@switchyard/core';
import { GatewayError, randomId } from '@switchyard/core';
import { HttpClient, type HttpClientOptions, type JsonUpstreamResponse, readJsonBody, transportError, upstreamAbort, type UpstreamRequestOptions, type UpstreamResponse } from '../shared/http-client.js';
import { createServerSentEventReader } from '../shared/sse.js';
import { createUpstreamError, malformedResponseError, type ProviderErrorDetails } from '../shared/upstream-error.js';
import { withCatalogFacts } from '../catalog/model-catalog.js';
import { openAIEmbeddingResponseSchema, openAIModelListSchema } from './openai-api.js';
import { readOpenAIChunk, readOpenAIResponse } from './openai-wire-check.js';
import { convertToOpenAIRequest } from './convert-to-openai-request.js';
import { createOpenAIStreamState, detachUsage, isNormalOpenAIResponse, type OpenAIStreamState, normalizeOpenAIChunk, normalizeOpenAIResponse, usageChunk } from './convert-openai-stream.js';
import { extractOpenAIError } from './openai-error.js';

/** The upstream operations of an OpenAI-compatible API. */
export type OpenAIEndpoint = 'chat' | 'embeddings' | 'models';

export interface OpenAICompatibleOptions extends Pick<HttpClientOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs' | 'connections'> {
  /** Provider id and model prefix: `deepseek` serves `deepseek/deepseek-chat`. */
  id: string;
  /** API root including its version path, e.g. `https://api.deepseek.com/v1`. */
  baseURL: string;
  /** Sent as `Authorization: Bearer …`. Omit for servers without authentication (Ollama, vLLM). */
  apiKey?: string;
  /** Extra headers on every upstream request (e.g. `OpenAI-Organization`, OpenRouter's `HTTP-Referer`). */
  headers?: Record<string, string>;
  /** Bare model-name prefixes this provider serves (e.g. `deepseek-`). */
  modelPrefixes?: readonly string[];
  /**
   * Models listed by `/v1/models`. When omitted, the upstream's own `/models` is asked (and cached for a
   * minute).
   */
  models?: readonly string[];
  /** Send `stream_options.include_usage`; turn off only for servers that reject it. Default true. */
  streamUsage?: boolean;
  /**
   * The request path below `baseURL`, query string included, for an operation and model. Default
   * `/chat/completions`, `/embeddings`, `/models`. Azure puts the deployment in the path and the API
   * version in the query. `null` means the upstream has no such operation.
   */
  buildPath?: (endpoint: OpenAIEndpoint, modelId: string | undefined) => string | null;
  /** The header carrying `apiKey`. Default `{ name: 'authorization', scheme: 'Bearer' }`; Azure uses `api-key`. */
  apiKeyHeader?: { name: string; scheme?: string };
  /** Reads the provider's error bodies. Default: OpenAI's `{"error":{message,type,code,param}}`. */
  extractError?: (body: unknown) => ProviderErrorDetails | undefined;
  /** Keep Azure's `prompt_filter_results` and `content_filter_results` on answers. Default false. */
  keepContentFilterResults?: boolean;
  /** The provider id under which the model catalog knows this provider's models. Default `id`. */
  catalogProvider?: string;
}

const defaultPaths: Record<OpenAIEndpoint, string> = { chat: '/chat/completions', embeddings: '/embeddings', models: '/models' };

const modelListTtlMs = 60_000;

/**
 * A provider for any server that speaks OpenAI's Chat Completions: OpenAI itself, DeepSeek, Groq,
 * Mistral, xAI, Qwen (DashScope), OpenRouter, Together, Ollama, vLLM.
 */
export function createOpenAICompatible(options: OpenAICompatibleOptions): ProviderV1 {
  const provider = options.id;
  const apiKeyHeader = options.apiKeyHeader ?? { name: 'authorization', scheme: 'Bearer' };
  const authentication = options.apiKey
    ? { [apiKeyHeader.name.toLowerCase()]: apiKeyHeader.scheme ? `${apiKeyHeader.scheme} ${options.apiKey}` : options.apiKey }
    : {};
  const buildPath = options.buildPath ?? ((endpoint: OpenAIEndpoint) => defaultPaths[endpoint]);
  const extractError = options.extractError ?? extractOpenAIError;
  const keepContentFilterResults = options.keepContentFilterResults ?? false;
  const catalogProvider = options.catalogProvider ?? provider;
  const client = new HttpClient({
    provider,
    baseURL: options.baseURL,
    headers: { ...authentication, ...options.headers },
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  });
  const streamUsage = options.streamUsage ?? true;
  let modelCache: { expiresAt: number; models: ProviderModel[] } | undefined;

  const upstreamError = (status: number, headers: Record<string, string | string[] | undefined>, bodyText: string) =>
    createUpstreamError({ provider, status, headers, bodyText, extract: extractError });

  function pathFor(endpoint: OpenAIEndpoint, modelId: string): string {
    const path = buildPath(endpoint, modelId);
    if (path === null) {
      throw GatewayError.invalidRequest(`The provider '${provider}' does not serve ${endpoint === 'chat' ? 'chat completions' : endpoint}.`, 'model', 'model_not_supported');
    }
    return path;
  }

  function upstreamRequest(path: string, body: unknown, callOptions: ProviderCallOptions): UpstreamRequestOptions {
    return {
      method: 'POST',
      path,
      body: JSON.stringify(body),
      headers: { 'x-request-id': callOptions.requestId, ...callOptions.headers },
      ...upstreamAbort(callOptions),
    };
  }

  const post = (path: string, body: unknown, callOptions: ProviderCallOptions): Promise<UpstreamResponse> =>
    client.requestOk(upstreamRequest(path, body, callOptions), upstreamError);

  const postForJson = (path: string, body: unknown, callOptions: ProviderCallOptions): Promise<JsonUpstreamResponse> =>
    client.requestJson(upstreamRequest(path, body, callOptions), upstreamError);

  const readJson = (response: UpstreamResponse): Promise<unknown> => readJsonBody(response.body, provider);

  return {
    specificationVersion: 'v1',
    id: provider,
    modelPrefixes: options.modelPrefixes,

    async chat(modelId: string, request: ChatCompletionRequest, callOptions: ProviderCallOptions): Promise<ChatResult> {
      const body = convertToOpenAIRequest(modelId, request, { streamUsage });
      if (request.stream === true) {
        const response = await post(pathFor('chat', modelId), body, callOptions);
        const contentType = String(response.headers['content-type'] ?? '');
        if (!contentType.includes('text/event-stream')) {
          // Some servers answer a stream request with a JSON error and status 200.
          const json = await readJson(response);
          const details = extractError(json);
          if (details) throw upstreamError(502, response.headers, JSON.stringify(json));
          throw malformedResponseError(provider, `expected an event stream, got '${contentType || 'no content type'}'`);
        }
        const state = createOpenAIStreamState(modelId, randomId('chatcmpl-'), Date.now(), { keepContentFilterResults });
        return { type: 'stream', stream: readOpenAIStream(response.body, state, provider, extractError, callOptions.signal) };
      }
      const answer = await postForJson(pathFor('chat', modelId), body, callOptions);
      const json = answer.json;
      // OpenAI's own answers need nothing done: the parsed value is the answer, its bytes its JSON.
      if (isNormalOpenAIResponse(json, { keepContentFilterResults })) return { type: 'response', response: json, json: answer.bytes };
      const completion = readOpenAIResponse(json);
      if (!completion) {
        const details = extractError(json);
        if (details) throw upstreamError(502, answer.headers, JSON.stringify(json));
        throw malformedResponseError(provider, 'the body is not a chat completion');
      }
      // An id is made only for the few servers that send none (Qwen sends an empty one).
      const fallbackId = completion.id ? completion.id : randomId('chatcmpl-');
      return { type: 'response', response: normalizeOpenAIResponse(completion, modelId, fallbackId, Date.now(), { keepContentFilterResults }) };
    },

    async embeddings(modelId: string, request: EmbeddingRequest, callOptions: ProviderCallOptions): Promise<EmbeddingResponse> {
      const answer = await postForJson(pathFor('embeddings', modelId), { ...request, model: modelId }, callOptions);
      const json = answer.json;
      const parsed = openAIEmbeddingResponseSchema.safeParse(json);
      if (!parsed.success) {
        // As with chat: some servers answer an error with status 200; its own words beat "malformed".
        if (extractError(json)) throw upstreamError(502, answer.headers, JSON.stringify(json));
        throw malformedResponseError(provider, 'the body is not an embedding list');
      }
      const usage = parsed.data.usage;
      return {
        object: 'list',
        data: parsed.data.data.map((item) => ({ object: 'embedding', index: item.index, embedding: item.embedding })),
        model: parsed.data.model ?? modelId,
        usage: { prompt_tokens: usage?.prompt_tokens ?? 0, total_tokens: usage?.total_tokens ?? usage?.prompt_tokens ?? 0 },
      };
    },

    async listModels({ signal }): Promise<ProviderModel[]> {
      if (options.models) return withCatalogFacts(catalogProvider, options.models.map((id) => ({ id, ownedBy: provider })));
      if (modelCache && modelCache.expiresAt > Date.now()) return modelCache.models;
      const path = buildPath('models', undefined);
      if (path === null) return [];
      const { json } = await client.requestJson({ method: 'GET', path, signal }, upstreamError, 'the model list');
      const parsed = openAIModelListSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'the body is not a model list');
      const models = withCatalogFacts(
        catalogProvider,
        parsed.data.data.map((model) => ({ id: model.id, created: model.created ?? undefined, ownedBy: model.owned_by ?? provider })),
      );
      modelCache = { expiresAt: Date.now() + modelListTtlMs, models };
      return models;
    },

    async close() {
      await client.close();
    },
  };
}

async function* readOpenAIStream(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  state: OpenAIStreamState,
  provider: string,
  extractError: (body: unknown) => ProviderErrorDetails | undefined,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  // The body is read here, not through parseServerSentEvents: one async layer less per event.
  const bytes = body[Symbol.asyncIterator]();
  const reader = createServerSentEventReader();
  let completed = false;
  let sawDone = false;
  // Usage is held back and sent once, last, in a chunk of its own: servers that put it on the finishing
  // chunk (Groq, Mistral, DeepSeek, Moonshot) then look like OpenAI to clients and to billing.
  let usage: CompletionUsage | undefined;
  let systemFingerprint: string | undefined;
  try {
    reading: for (;;) {
      const next = await bytes.next();
      for (const event of next.done ? reader.end() : reader.feed(next.value)) {
        const data = event.data;
        if (data === '[DONE]') {
          sawDone = true;
          break reading;
        }
        if (data === '') continue;
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch (error) {
          throw malformedResponseError(provider, 'a stream event is not JSON', error);
        }
        // Errors inside a stream arrive as an event carrying `error` (OpenAI) or `event: error`.
        // `error: null` on an ordinary chunk is no error.
        if (event.event === 'error' || (typeof json === 'object' && json !== null && (json as { error?: unknown }).error != null)) {
          const details = extractError(json);
          throw new GatewayError({
            message: details?.message ?? `The upstream provider '${provider}' reported an error mid-stream.`,
            status: 502,
            type: details?.type ?? 'api_error',
            code: details?.code ?? 'upstream_stream_error',
            isRetryable: true,
            provider,
            upstreamBody: json,
          });
        }
        const wireChunk = readOpenAIChunk(json);
        if (!wireChunk) throw malformedResponseError(provider, 'a stream event is not a chat completion chunk');
        const normalized = normalizeOpenAIChunk(wireChunk, state);
        if (!normalized) continue;
        if (normalized.system_fingerprint) systemFingerprint = normalized.system_fingerprint;
        const detached = detachUsage(normalized);
        if (detached.usage) usage = detached.usage;
        if (detached.chunk) yield detached.chunk;
      }
      if (next.done) break;
    }
    completed = true;
  } catch (error) {
    if (signal.aborted) throw error;
    throw transportError(error, provider);
  } finally {
    // Leaving early (client gone, error) must close the upstream connection, not leave it generating.
    if (!completed) body.destroy();
  }
  try {
    if (usage) yield usageChunk(state, usage, systemFingerprint);
  } finally {
    // Read on to the body's end, which follows `[DONE]` at once: stopping at `[DONE]` would destroy the
    // body a moment before its end arrives, and with it a keep-alive connection the next call could use.
    if (sawDone) await finishBody(bytes, body);
  }
}

/** How long a body may go on after `[DONE]` before its connection is cut instead of reused. */
const afterDoneGraceMs = 1_000;

async function finishBody(events: AsyncIterator<unknown>, body: { destroy(error?: Error): unknown }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gracePassed = new Promise<'grace-passed'>((resolve) => {
    timer = setTimeout(() => resolve('grace-passed'), afterDoneGraceMs);
    timer.unref();
  });
  try {
    for (;;) {
      const next = await Promise.race([events.next(), gracePassed]);
      if (next === 'grace-passed') {
        body.destroy();
        return;
      }
      if (next.done) return;
    }
  } catch {
    body.destroy();
  } finally {
    clearTimeout(timer);
  }
}
