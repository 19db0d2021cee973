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
import { GatewayError, randomId } from '@switchyard/core';
import { HttpClient, type HttpClientOptions, type JsonUpstreamResponse, readJsonBody, transportError, upstreamAbort, type UpstreamRequestOptions, type UpstreamResponse } from '../shared/http-client.js';
import { parseServerSentEvents } from '../shared/sse.js';
import { malformedResponseError } from '../shared/upstream-error.js';
import { convertGeminiResponse, convertGeminiStreamEvent, createGeminiStreamState, finishGeminiStream, type GeminiConversionOptions } from './convert-gemini-stream.js';
import { convertToGeminiRequest } from './convert-to-gemini-messages.js';
import {
  geminiBatchEmbedContentsResponseSchema,
  geminiEmbedContentResponseSchema,
  geminiModelListSchema,
  geminiResponseSchema,
  type GeminiEmbedContentRequest,
} from './gemini-api.js';
import { createGeminiError, parseGeminiErrorBody } from './gemini-error.js';

export interface GeminiOptions extends Pick<HttpClientOptions, 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'idleTimeoutMs' | 'connections'> {
  /** Sent as `x-goog-api-key`. */
  apiKey: string;
  /** API root with its version. Default `https://generativelanguage.googleapis.com/v1beta`. */
  baseURL?: string;
  /** Extra headers on every upstream request. */
  headers?: Record<string, string>;
  /** Provider id and model prefix. Default `gemini`. */
  id?: string;
  /** Bare model-name prefixes this provider serves. Default `['gemini-']`. */
  modelPrefixes?: readonly string[];
  /** Models listed by `/v1/models`. When omitted, Gemini's own `/models` is asked (and cached for a minute). */
  models?: readonly string[];
}

const defaultBaseURL = 'https://generativelanguage.googleapis.com/v1beta';
const modelListTtlMs = 60_000;
/** `/models` pages followed at most: Google lists a few hundred models, a loop of page tokens is a bug. */
const maxModelPages = 20;
/** Methods that make a listed model servable through chat or embeddings. */
const servedMethods = new Set(['generateContent', 'streamGenerateContent', 'embedContent', 'batchEmbedContents']);

/**
 * Google Gemini through the Generative Language API: `:generateContent`, `:streamGenerateContent?alt=sse`,
 * `:embedContent` / `:batchEmbedContents` and `/models`, translated to and from OpenAI's Chat Completions.
 */
export function createGemini(options: GeminiOptions): ProviderV1 {
  const provider = options.id ?? 'gemini';
  const client = new HttpClient({
    provider,
    baseURL: options.baseURL ?? defaultBaseURL,
    headers: { 'x-goog-api-key': options.apiKey, ...options.headers },
    connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    connections: options.connections,
  });
  let modelCache: { expiresAt: number; models: ProviderModel[] } | undefined;

  const toError = (status: number, headers: UpstreamResponse['headers'], bodyText: string) => createGeminiError(provider, status, headers, bodyText);
  const upstreamRequest = (path: string, body: unknown, callOptions: ProviderCallOptions): UpstreamRequestOptions => ({
    method: 'POST',
    path,
    body: JSON.stringify(body),
    headers: callOptions.headers,
    ...upstreamAbort(callOptions),
  });
  const post = (path: string, body: unknown, callOptions: ProviderCallOptions): Promise<UpstreamResponse> =>
    client.requestOk(upstreamRequest(path, body, callOptions), toError);
  const postForJson = (path: string, body: unknown, callOptions: ProviderCallOptions): Promise<JsonUpstreamResponse> =>
    client.requestJson(upstreamRequest(path, body, callOptions), toError);

  const readJson = (response: UpstreamResponse): Promise<unknown> => readJsonBody(response.body, provider);

  /**
   * A 200 whose body is Google's error object still is an error. `answer.headers` is read only then: a
   * JSON answer's headers are made on first read.
   */
  function errorInBody(json: unknown, answer: { readonly headers: UpstreamResponse['headers'] }): GatewayError | undefined {
    const error = parseGeminiErrorBody(json);
    return error ? createGeminiError(provider, error.error.code ?? 502, answer.headers, JSON.stringify(json)) : undefined;
  }

  return {
    specificationVersion: 'v1',
    id: provider,
    modelPrefixes: options.modelPrefixes ?? ['gemini-'],

    async chat(modelId: string, request: ChatCompletionRequest, callOptions: ProviderCallOptions): Promise<ChatResult> {
      const model = modelPath(modelId);
      const body = convertToGeminiRequest(modelId, request);
      const conversion: GeminiConversionOptions = { provider, modelId, fallbackId: randomId('chatcmpl-') };
      if (request.stream === true) {
        const response = await post(`/${model}:streamGenerateContent?alt=sse`, body, callOptions);
        const contentType = String(response.headers['content-type'] ?? '');
        if (!contentType.includes('text/event-stream')) {
          const json = await readJson(response);
          throw errorInBody(json, response) ?? malformedResponseError(provider, `expected an event stream, got '${contentType || 'no content type'}'`);
        }
        return { type: 'stream', stream: readGeminiStream(response.body, conversion, callOptions.signal) };
      }
      const answer = await postForJson(`/${model}:generateContent`, body, callOptions);
      const json = answer.json;
      const failure = errorInBody(json, answer);
      if (failure) throw failure;
      const parsed = geminiResponseSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'the body is not a generateContent response');
      return { type: 'response', response: convertGeminiResponse(parsed.data, conversion) };
    },

    async embeddings(modelId: string, request: EmbeddingRequest, callOptions: ProviderCallOptions): Promise<EmbeddingResponse> {
      const model = modelPath(modelId);
      const inputs = embeddingInputs(request.input);
      const outputDimensionality = request.dimensions;
      const content = (text: string): GeminiEmbedContentRequest => ({
        model,
        content: { parts: [{ text }] },
        ...(outputDimensionality ? { outputDimensionality } : {}),
      });
      let vectors: number[][];
      let usage: { promptTokenCount?: number | null; totalTokenCount?: number | null } | null | undefined;
      if (typeof request.input === 'string') {
        const { json } = await postForJson(`/${model}:embedContent`, content(inputs[0]!), callOptions);
        const parsed = geminiEmbedContentResponseSchema.safeParse(json);
        if (!parsed.success) throw malformedResponseError(provider, 'the body is not an embedContent response');
        vectors = [parsed.data.embedding.values];
        usage = parsed.data.usageMetadata;
      } else {
        const { json } = await postForJson(`/${model}:batchEmbedContents`, { requests: inputs.map(content) }, callOptions);
        const parsed = geminiBatchEmbedContentsResponseSchema.safeParse(json);
        if (!parsed.success) throw malformedResponseError(provider, 'the body is not a batchEmbedContents response');
        if (parsed.data.embeddings.length !== inputs.length) {
          throw malformedResponseError(provider, `${inputs.length} inputs were sent but ${parsed.data.embeddings.length} embeddings came back`);
        }
        vectors = parsed.data.embeddings.map((embedding) => embedding.values);
        usage = parsed.data.usageMetadata;
      }
      // Gemini reports no token counts for embeddings on most models; zero says "not reported".
      const promptTokens = usage?.promptTokenCount ?? 0;
      return {
        object: 'list',
        data: vectors.map((values, index) => ({
          object: 'embedding',
          index,
          embedding: request.encoding_format === 'base64' ? encodeFloat32Base64(values) : values,
        })),
        model: modelId,
        usage: { prompt_tokens: promptTokens, total_tokens: usage?.totalTokenCount ?? promptTokens },
      };
    },

    async listModels({ signal }): Promise<ProviderModel[]> {
      if (options.models) return options.models.map((id) => ({ id, ownedBy: 'google' }));
      if (modelCache && modelCache.expiresAt > Date.now()) return modelCache.models;
      const models: ProviderModel[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < maxModelPages; page++) {
        const query = `?pageSize=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`;
        const { json } = await client.requestJson({ method: 'GET', path: `/models${query}`, signal }, toError, 'the model list');
        const parsed = geminiModelListSchema.safeParse(json);
        if (!parsed.success) throw malformedResponseError(provider, 'the body is not a model list');
        for (const model of parsed.data.models ?? []) {
          const methods = model.supportedGenerationMethods;
          if (methods && !methods.some((method) => servedMethods.has(method))) continue;
          const listed: ProviderModel = { id: model.name.replace(/^models\//, ''), ownedBy: 'google' };
          if (model.inputTokenLimit) listed.contextWindow = model.inputTokenLimit;
          if (model.outputTokenLimit) listed.maxOutputTokens = model.outputTokenLimit;
          models.push(listed);
        }
        pageToken = parsed.data.nextPageToken || undefined;
        if (!pageToken) break;
      }
      modelCache = { expiresAt: Date.now() + modelListTtlMs, models };
      return models;
    },

    async close() {
      await client.close();
    },
  };
}

/**
 * `gemini-2.5-flash` → `models/gemini-2.5-flash`; `models/…` and `tunedModels/…` pass as they are. The
 * id goes into the URL path, so anything but a plain name is refused rather than escaped into a
 * different endpoint.
 */
export function modelPath(modelId: string): string {
  const match = /^(models\/|tunedModels\/)?([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(modelId);
  if (!match) throw GatewayError.invalidRequest(`'${modelId}' is not a valid Gemini model name.`, 'model', 'invalid_value');
  return `${match[1] ?? 'models/'}${match[2]}`;
}

function embeddingInputs(input: EmbeddingRequest['input']): string[] {
  if (typeof input === 'string') return [input];
  if (input.every((item): item is string => typeof item === 'string')) return input as string[];
  throw GatewayError.invalidRequest('Gemini embeddings take text; token arrays are not supported.', 'input', 'invalid_value');
}

/** OpenAI's `encoding_format: "base64"`: the vector as little-endian float32 bytes. */
export function encodeFloat32Base64(values: readonly number[]): string {
  const buffer = Buffer.alloc(values.length * 4);
  values.forEach((value, index) => buffer.writeFloatLE(value, index * 4));
  return buffer.toString('base64');
}

async function* readGeminiStream(
  body: UpstreamResponse['body'],
  conversion: GeminiConversionOptions,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  const provider = conversion.provider;
  const state = createGeminiStreamState(conversion);
  let completed = false;
  try {
    for await (const event of parseServerSentEvents(body)) {
      if (event.data === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(event.data);
      } catch (error) {
        throw malformedResponseError(provider, 'a stream event is not JSON', error);
      }
      // Google reports failures after the 200 as an event carrying `error`.
      const error = parseGeminiErrorBody(json);
      if (error) throw createGeminiError(provider, error.error.code ?? 500, {}, event.data);
      const parsed = geminiResponseSchema.safeParse(json);
      if (!parsed.success) throw malformedResponseError(provider, 'a stream event is not a generateContent response');
      for (const chunk of convertGeminiStreamEvent(parsed.data, state)) yield chunk;
    }
    completed = true;
    yield finishGeminiStream(state);
  } catch (error) {
    if (signal.aborted) throw error;
    throw transportError(error, provider);
  } finally {
    // Leaving early (client gone, error) must close the upstream connection, not leave it generating.
    if (!completed) body.destroy();
  }
}
