import type { ChatCompletionChunk, ChatCompletionRequest, ChatResult, ProviderCallOptions, ProviderModel, ProviderV1 } from '@switchyard/core';
import { randomId } from '@switchyard/core';
import { HttpClient, type HttpClientOptions, readJsonBody, transportError, upstreamAbort, type UpstreamRequestOptions, type UpstreamResponse } from '../shared/http-client.js';
import { parseServerSentEvents } from '../shared/sse.js';
import { malformedResponseError } from '../shared/upstream-error.js';
import { anthropicMessageSchema, anthropicModelListSchema } from './anthropic-api.js';
import { createAnthropicError, extractAnthropicError } from './anthropic-error.js';
import { convertToAnthropicRequest } from './convert-to-anthropic-messages.js';
import {
  convertAnthropicResponse,
  convertAnthropicStreamEvent,
  createAnthropicStreamState,
  finishAnthropicStream,
  parseAnthropicStreamEvent,
} from './convert-anthropic-stream.js';

/** The Messages API version this adapter speaks; Anthropic keeps old versions working. */
export const defaultAnthropicVersion = '2023-06-01';

export interface AnthropicProviderOptions extends Pick<HttpClientOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs' | 'connections'> {
  /** Sent as `x-api-key`. */
  apiKey: string;
  /** API root including its version path. Default `https://api.anthropic.com/v1`. */
  baseURL?: string;
  /** Extra headers on every upstream request, e.g. `anthropic-beta` to turn on beta features. */
  headers?: Record<string, string>;
  /** `anthropic-version` header. Default `2023-06-01`. */
  version?: string;
  /** Output tokens asked for when a request sets no limit (Anthropic requires one). Default 4096. */
  defaultMaxTokens?: number;
  /** Provider id and `provider/` prefix. Default `anthropic`. */
  id?: string;
  /** Models listed by `/v1/models`. When omitted, Anthropic's own model list is asked (cached for a minute). */
  models?: readonly string[];
}

const modelListTtlMs = 60_000;

/** A provider for Anthropic's Messages API: Claude models behind the OpenAI Chat Completions interface. */
export function createAnthropic(options: AnthropicProviderOptions): ProviderV1 {
  const provider = options.id ?? 'anthropic';
  const client = new HttpClient({
    provider,
    baseURL: options.baseURL ?? 'https://api.anthropic.com/v1',
    headers: { 'x-api-key': options.apiKey, 'anthropic-version': options.version ?? defaultAnthropicVersion, ...options.headers },
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  });
  let modelCache: { expiresAt: number; models: ProviderModel[] } | undefined;

  const readJson = (response: UpstreamResponse): Promise<unknown> => readJsonBody(response.body, provider);
  const toError = (status: number, headers: UpstreamResponse['headers'], bodyText: string) => createAnthropicError(provider, status, headers, bodyText);

  return {
    specificationVersion: 'v1',
    id: provider,
    modelPrefixes: ['claude-'],

    async chat(modelId: string, request: ChatCompletionRequest, callOptions: ProviderCallOptions): Promise<ChatResult> {
      const body = convertToAnthropicRequest(modelId, request, { defaultMaxTokens: options.defaultMaxTokens });
      const upstreamRequest: UpstreamRequestOptions = {
        method: 'POST',
        path: '/messages',
        body: JSON.stringify(body),
        headers: { 'x-request-id': callOptions.requestId, ...(body.stream ? { accept: 'text/event-stream' } : {}), ...callOptions.headers },
        ...upstreamAbort(callOptions),
      };
      const fallbackId = randomId('chatcmpl-');
      if (body.stream) {
        const response = await client.requestOk(upstreamRequest, toError);
        const contentType = String(response.headers['content-type'] ?? '');
        if (!contentType.includes('text/event-stream')) {
          const json = await readJson(response);
          if (extractAnthropicError(json)) throw createAnthropicError(provider, 502, response.headers, JSON.stringify(json));
          throw malformedResponseError(provider, `expected an event stream, got '${contentType || 'no content type'}'`);
        }
        return { type: 'stream', stream: readAnthropicStream(response.body, provider, modelId, fallbackId, callOptions.signal) };
      }
      const answer = await client.requestJson(upstreamRequest, toError);
      const json = answer.json;
      const parsed = anthropicMessageSchema.safeParse(json);
      if (!parsed.success) {
        if (extractAnthropicError(json)) throw createAnthropicError(provider, 502, answer.headers, JSON.stringify(json));
        throw malformedResponseError(provider, 'the body is not a message');
      }
      return { type: 'response', response: convertAnthropicResponse(parsed.data, modelId, fallbackId) };
    },

    async listModels({ signal }): Promise<ProviderModel[]> {
      if (options.models) return options.models.map((id) => ({ id, ownedBy: provider }));
      if (modelCache && modelCache.expiresAt > Date.now()) return modelCache.models;
      const models: ProviderModel[] = [];
      let afterId: string | undefined;
      // Anthropic pages its list; a handful of pages covers every model it has ever served.
      for (let page = 0; page < 10; page++) {
        const query = `?limit=1000${afterId ? `&after_id=${encodeURIComponent(afterId)}` : ''}`;
        const { json } = await client.requestJson({ method: 'GET', path: `/models${query}`, signal }, toError, 'the model list');
        const parsed = anthropicModelListSchema.safeParse(json);
        if (!parsed.success) throw malformedResponseError(provider, 'the body is not a model list');
        for (const model of parsed.data.data) {
          const createdAt = model.created_at ? Date.parse(model.created_at) : Number.NaN;
          models.push({ id: model.id, created: Number.isFinite(createdAt) ? Math.floor(createdAt / 1000) : undefined, ownedBy: provider });
        }
        if (!parsed.data.has_more || !parsed.data.last_id) break;
        afterId = parsed.data.last_id;
      }
      modelCache = { expiresAt: Date.now() + modelListTtlMs, models };
      return models;
    },

    async close() {
      await client.close();
    },
  };
}

async function* readAnthropicStream(
  body: UpstreamResponse['body'],
  provider: string,
  modelId: string,
  fallbackId: string,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  const state = createAnthropicStreamState(provider, modelId, fallbackId);
  let completed = false;
  try {
    for await (const message of parseServerSentEvents(body)) {
      // Nothing after message_stop belongs to this answer; reading on to the end (Anthropic closes right
      // after it) lets the connection go back to the pool instead of being torn down.
      if (state.stopped || message.data === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(message.data);
      } catch (error) {
        throw malformedResponseError(provider, 'a stream event is not JSON', error);
      }
      // The SSE event name and the payload's `type` agree on Anthropic; either one marks an error.
      if (message.event === 'error' && !(typeof json === 'object' && json !== null && (json as { type?: unknown }).type === 'error')) {
        json = { type: 'error', error: (json as { error?: unknown } | null)?.error ?? { type: 'api_error', message: message.data } };
      }
      const event = parseAnthropicStreamEvent(json, provider);
      if (event) yield* convertAnthropicStreamEvent(event, state);
    }
    const closing = finishAnthropicStream(state);
    completed = true;
    yield* closing;
  } catch (error) {
    if (signal.aborted) throw error;
    throw transportError(error, provider);
  } finally {
    // Leaving early (client gone, error) must close the upstream connection, not leave it generating.
    if (!completed) body.destroy();
  }
}
