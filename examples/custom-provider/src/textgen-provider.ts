import { randomUUID } from 'node:crypto';
import type {
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatResult,
  ProviderCallOptions,
  ProviderModel,
  ProviderV1,
} from '@switchyard/core';
import { HttpClient, type HttpClientOptions, malformedResponseError, readText, transportError, truncatedStreamError, type UpstreamResponse } from '@switchyard/providers';
import { convertToTextGenRequest } from './convert-request.js';
import { convertTextGenResponse, convertTextGenStreamEvent, createTextGenStreamState } from './convert-response.js';
import { LineTooLongError, readLines } from './ndjson.js';
import { textGenGenerateResponseSchema, textGenModelListSchema, textGenStreamEventSchema } from './textgen-api.js';
import { createTextGenError, extractTextGenError } from './textgen-error.js';

export interface TextGenOptions extends Pick<HttpClientOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs' | 'connections'> {
  /** Provider id and model prefix. Default `textgen`, so models are addressed as `textgen/<model>`. */
  id?: string;
  /** Root of the API, e.g. `https://textgen.example.com/v1`; `/generate` and `/models` are below it. */
  baseURL: string;
  /** Sent as `x-api-key`. Omit for a server without authentication. */
  apiKey?: string;
  /** Extra headers on every upstream request. */
  headers?: Record<string, string>;
  /** Bare model-name prefixes this provider serves (e.g. `tg-`). Default none: use `textgen/<model>`. */
  modelPrefixes?: readonly string[];
  /** Models listed by `/v1/models`. When omitted, the server's own `/models` is asked (cached for a minute). */
  models?: readonly string[];
}

const modelListTtlMs = 60_000;
/** The largest non-streamed answer read; a generation is far smaller, a broken upstream may not be. */
const maxResponseBytes = 16 * 1024 * 1024;

/** A provider for the TextGen API: chat requests become transcripts, its answers become chat completions. */
export function createTextGen(options: TextGenOptions): ProviderV1 {
  const provider = options.id ?? 'textgen';
  const client = new HttpClient({
    provider,
    baseURL: options.baseURL,
    headers: { ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}), ...options.headers },
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  });
  let modelCache: { expiresAt: number; models: ProviderModel[] } | undefined;

  async function readJson(response: UpstreamResponse): Promise<unknown> {
    const text = await readText(response.body, maxResponseBytes).catch((error: unknown) => {
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
      // Refuses what the API cannot do before any upstream call is made.
      const body = convertToTextGenRequest(modelId, request);
      const response = await client.request({
        method: 'POST',
        path: '/generate',
        body: JSON.stringify(body),
        headers: { 'x-request-id': callOptions.requestId, accept: body.stream ? 'application/x-ndjson' : 'application/json', ...callOptions.headers },
        signal: callOptions.signal,
      });
      if (response.status >= 400) {
        const bodyText = await readText(response.body).catch(() => '');
        throw createTextGenError(provider, response.status, response.headers, bodyText);
      }
      const fallbackId = `chatcmpl-${randomUUID()}`;
      if (body.stream) {
        const contentType = String(response.headers['content-type'] ?? '');
        if (!contentType.includes('ndjson') && !contentType.includes('jsonl')) {
          // A server that cannot stream right now may say so in a JSON body with status 200.
          const json = await readJson(response);
          if (extractTextGenError(json)) throw createTextGenError(provider, 502, response.headers, JSON.stringify(json));
          throw malformedResponseError(provider, `expected a newline-delimited JSON stream, got '${contentType || 'no content type'}'`);
        }
        return { type: 'stream', stream: readTextGenStream(response.body, modelId, fallbackId, provider, callOptions.signal) };
      }
      const json = await readJson(response);
      const parsed = textGenGenerateResponseSchema.safeParse(json);
      if (!parsed.success) {
        if (extractTextGenError(json)) throw createTextGenError(provider, 502, response.headers, JSON.stringify(json));
        throw malformedResponseError(provider, 'the body is not a generation');
      }
      return { type: 'response', response: convertTextGenResponse(parsed.data, modelId, fallbackId) };
    },

    async listModels({ signal }): Promise<ProviderModel[]> {
      if (options.models) return options.models.map((id) => ({ id, ownedBy: provider }));
      if (modelCache && modelCache.expiresAt > Date.now()) return modelCache.models;
      const response = await client.request({ method: 'GET', path: '/models', signal });
      if (response.status >= 400) {
        throw createTextGenError(provider, response.status, response.headers, await readText(response.body).catch(() => ''));
      }
      const parsed = textGenModelListSchema.safeParse(await readJson(response));
      if (!parsed.success) throw malformedResponseError(provider, 'the body is not a model list');
      const models = parsed.data.models.map((model) => ({
        id: model.name,
        ownedBy: provider,
        contextWindow: model.context_length ?? undefined,
        maxOutputTokens: model.max_new_tokens ?? undefined,
      }));
      modelCache = { expiresAt: Date.now() + modelListTtlMs, models };
      return models;
    },

    async close() {
      await client.close();
    },
  };
}

async function* readTextGenStream(
  body: UpstreamResponse['body'],
  modelId: string,
  id: string,
  provider: string,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  const state = createTextGenStreamState(modelId, id);
  let completed = false;
  try {
    for await (const line of readLines(body)) {
      // Whatever follows `done` is read and dropped, so the connection goes back to the pool intact.
      if (state.done) continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (error) {
        throw malformedResponseError(provider, 'a stream line is not JSON', error);
      }
      const parsed = textGenStreamEventSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'a stream line is not a TextGen event');
      yield* convertTextGenStreamEvent(parsed.data, state, provider);
    }
    if (!state.done) {
      throw truncatedStreamError(provider);
    }
    completed = true;
  } catch (error) {
    if (signal.aborted) throw error;
    if (error instanceof LineTooLongError) throw malformedResponseError(provider, error.message, error);
    throw transportError(error, provider);
  } finally {
    // Leaving early (client gone, error) must close the upstream connection, not leave it generating.
    if (!completed) body.destroy();
  }
}
