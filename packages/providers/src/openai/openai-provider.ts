import { randomUUID } from 'node:crypto';
import type {
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatResult,
  EmbeddingRequest,
  EmbeddingResponse,
  ProviderCallOptions,
  ProviderModel,
  ProviderV1,
} from '@switchyard/core';
import { GatewayError } from '@switchyard/core';
import { HttpClient, type HttpClientOptions, readText, transportError } from '../shared/http-client.js';
import { parseServerSentEvents } from '../shared/sse.js';
import { malformedResponseError } from '../shared/upstream-error.js';
import { openAIChunkSchema, openAIEmbeddingResponseSchema, openAIModelListSchema, openAIResponseSchema } from './openai-api.js';
import { convertToOpenAIRequest } from './convert-to-openai-request.js';
import { createOpenAIStreamState, normalizeOpenAIChunk, normalizeOpenAIResponse } from './convert-openai-stream.js';
import { createOpenAIError, extractOpenAIError } from './openai-error.js';

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
}

const modelListTtlMs = 60_000;

/**
 * A provider for any server that speaks OpenAI's Chat Completions: OpenAI itself, DeepSeek, Groq,
 * Mistral, xAI, Qwen (DashScope), OpenRouter, Together, Ollama, vLLM.
 */
export function createOpenAICompatible(options: OpenAICompatibleOptions): ProviderV1 {
  const provider = options.id;
  const client = new HttpClient({
    provider,
    baseURL: options.baseURL,
    headers: { ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}), ...options.headers },
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  });
  const streamUsage = options.streamUsage ?? true;
  let modelCache: { expiresAt: number; models: ProviderModel[] } | undefined;

  async function post(path: string, body: unknown, callOptions: ProviderCallOptions) {
    const response = await client.request({
      method: 'POST',
      path,
      body: JSON.stringify(body),
      headers: { 'x-request-id': callOptions.requestId, ...callOptions.headers },
      signal: callOptions.signal,
    });
    if (response.status >= 400) {
      const bodyText = await readText(response.body).catch(() => '');
      throw createOpenAIError(provider, response.status, response.headers, bodyText);
    }
    return response;
  }

  async function readJson(response: Awaited<ReturnType<typeof post>>): Promise<unknown> {
    const text = await readText(response.body, 64 * 1024 * 1024).catch((error: unknown) => {
      throw transportError(error, provider);
    });
    try {
      return JSON.parse(text);
    } catch (error) {
      throw malformedResponseError(provider, 'the body is not JSON', error);
    }
  }

  return {
    specificationVersion: 'v1',
    id: provider,
    modelPrefixes: options.modelPrefixes,

    async chat(modelId: string, request: ChatCompletionRequest, callOptions: ProviderCallOptions): Promise<ChatResult> {
      const body = convertToOpenAIRequest(modelId, request, { streamUsage });
      const response = await post('/chat/completions', body, callOptions);
      const fallbackId = `chatcmpl-${randomUUID()}`;
      if (request.stream === true) {
        const contentType = String(response.headers['content-type'] ?? '');
        if (!contentType.includes('text/event-stream')) {
          // Some servers answer a stream request with a JSON error and status 200.
          const json = await readJson(response);
          const details = extractOpenAIError(json);
          if (details) throw createOpenAIError(provider, 502, response.headers, JSON.stringify(json));
          throw malformedResponseError(provider, `expected an event stream, got '${contentType || 'no content type'}'`);
        }
        return { type: 'stream', stream: readOpenAIStream(response.body, modelId, fallbackId, provider, callOptions.signal) };
      }
      const json = await readJson(response);
      const parsed = openAIResponseSchema.safeParse(json);
      if (!parsed.success) {
        const details = extractOpenAIError(json);
        if (details) throw createOpenAIError(provider, 502, response.headers, JSON.stringify(json));
        throw malformedResponseError(provider, 'the body is not a chat completion');
      }
      return { type: 'response', response: normalizeOpenAIResponse(parsed.data, modelId, fallbackId) };
    },

    async embeddings(modelId: string, request: EmbeddingRequest, callOptions: ProviderCallOptions): Promise<EmbeddingResponse> {
      const response = await post('/embeddings', { ...request, model: modelId }, callOptions);
      const parsed = openAIEmbeddingResponseSchema.safeParse(await readJson(response));
      if (!parsed.success) throw malformedResponseError(provider, 'the body is not an embedding list');
      const usage = parsed.data.usage;
      return {
        object: 'list',
        data: parsed.data.data.map((item) => ({ object: 'embedding', index: item.index, embedding: item.embedding })),
        model: parsed.data.model ?? modelId,
        usage: { prompt_tokens: usage?.prompt_tokens ?? 0, total_tokens: usage?.total_tokens ?? usage?.prompt_tokens ?? 0 },
      };
    },

    async listModels({ signal }): Promise<ProviderModel[]> {
      if (options.models) return options.models.map((id) => ({ id, ownedBy: provider }));
      if (modelCache && modelCache.expiresAt > Date.now()) return modelCache.models;
      const response = await client.request({ method: 'GET', path: '/models', signal });
      const text = await readText(response.body);
      if (response.status >= 400) throw createOpenAIError(provider, response.status, response.headers, text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw malformedResponseError(provider, 'the model list is not JSON', error);
      }
      const parsed = openAIModelListSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'the body is not a model list');
      const models = parsed.data.data.map((model) => ({ id: model.id, created: model.created ?? undefined, ownedBy: model.owned_by ?? provider }));
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
  modelId: string,
  fallbackId: string,
  provider: string,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  const state = createOpenAIStreamState(modelId, fallbackId);
  let completed = false;
  try {
    for await (const event of parseServerSentEvents(body)) {
      const data = event.data;
      if (data === '[DONE]') {
        completed = true;
        return;
      }
      if (data === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(data);
      } catch (error) {
        throw malformedResponseError(provider, 'a stream event is not JSON', error);
      }
      // Errors inside a stream arrive as an event carrying `error` (OpenAI) or `event: error`.
      if (event.event === 'error' || (typeof json === 'object' && json !== null && 'error' in json)) {
        const details = extractOpenAIError(json);
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
      const parsed = openAIChunkSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'a stream event is not a chat completion chunk');
      const chunk = normalizeOpenAIChunk(parsed.data, state);
      if (chunk) yield chunk;
    }
    completed = true;
  } catch (error) {
    if (signal.aborted) throw error;
    throw transportError(error, provider);
  } finally {
    // Leaving early (client gone, error) must close the upstream connection, not leave it generating.
    if (!completed) body.destroy();
  }
}
