/*
 * Small in-process providers and HTTP helpers for the core's tests. The core must not depend on the
 * provider adapters, so these fakes implement ProviderV1 directly and the tests talk to a real gateway
 * over loopback HTTP.
 */
import { createGateway, type Gateway, type GatewayOptions } from '../gateway.js';
import type { Logger } from '../logger.js';
import type { ChatResult, ProviderCallOptions, ProviderV1 } from '../provider.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChunkDelta,
  CompletionUsage,
  FinishReason,
} from '../wire/openai-types.js';

export interface ChatCall {
  modelId: string;
  request: ChatCompletionRequest;
  options: ProviderCallOptions;
}

type ChatHandler = (modelId: string, request: ChatCompletionRequest, options: ProviderCallOptions) => Promise<ChatResult> | ChatResult;

export interface FakeProvider extends ProviderV1 {
  /** Every chat call the provider received, in order. */
  readonly calls: ChatCall[];
  closed: boolean;
}

/** A provider whose `chat` is the given handler; by default it answers `Hello from <id>`. */
export function fakeProvider(
  id: string,
  handler?: ChatHandler,
  extra: Partial<Omit<ProviderV1, 'id' | 'chat' | 'specificationVersion'>> = {},
): FakeProvider {
  const calls: ChatCall[] = [];
  const answer: ChatHandler =
    handler ??
    ((modelId, request) =>
      request.stream === true
        ? { type: 'stream', stream: streamOf(textChunks(`Hello from ${id}`, { model: modelId })) }
        : { type: 'response', response: completion(`Hello from ${id}`, { model: modelId }) });
  const provider: FakeProvider = {
    specificationVersion: 'v1',
    id,
    calls,
    closed: false,
    ...extra,
    async chat(modelId, request, options) {
      calls.push({ modelId, request, options });
      return answer(modelId, request, options);
    },
    async close() {
      provider.closed = true;
    },
  };
  return provider;
}

export const defaultUsage: CompletionUsage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 };

export function completion(content: string, options: { model?: string; usage?: CompletionUsage | null; id?: string } = {}): ChatCompletion {
  const response: ChatCompletion = {
    id: options.id ?? 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: options.model ?? 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
  };
  if (options.usage !== null) response.usage = options.usage ?? defaultUsage;
  return response;
}

export function chunk(delta: ChunkDelta, finishReason: FinishReason | null = null, options: { model?: string; index?: number } = {}): ChatCompletionChunk {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: options.model ?? 'test-model',
    choices: [{ index: options.index ?? 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

export function usageChunk(usage: CompletionUsage = defaultUsage, model = 'test-model'): ChatCompletionChunk {
  return { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage };
}

/** The chunks an adapter emits for a text answer: role, one chunk per word, finish, then usage. */
export function textChunks(text: string, options: { model?: string; usage?: CompletionUsage } = {}): ChatCompletionChunk[] {
  const words = text.split(/(?<= )/);
  return [
    chunk({ role: 'assistant', content: '' }, null, options),
    ...words.map((word) => chunk({ content: word }, null, options)),
    chunk({}, 'stop', options),
    usageChunk(options.usage, options.model),
  ];
}

export async function* streamOf(chunks: readonly ChatCompletionChunk[]): AsyncGenerator<ChatCompletionChunk> {
  yield* chunks;
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  object: object | string;
  message: string | undefined;
}

/** A logger that keeps what it is given, so tests can check that a failure was reported. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const logger: Logger & { entries: LogEntry[] } = {
    entries,
    error: (object, message) => void entries.push({ level: 'error', object, message }),
    warn: (object, message) => void entries.push({ level: 'warn', object, message }),
    info: (object, message) => void entries.push({ level: 'info', object, message }),
    debug: (object, message) => void entries.push({ level: 'debug', object, message }),
    child: () => logger,
  };
  return logger;
}

const openGateways: Gateway[] = [];

/** Starts a gateway on an ephemeral loopback port; `closeGateways` in `afterEach` stops it. */
export async function startGateway(options: GatewayOptions): Promise<{ gateway: Gateway; url: string }> {
  const gateway = createGateway({ logger: recordingLogger(), drainTimeoutMs: 2_000, ...options });
  openGateways.push(gateway);
  const { url } = await gateway.listen(0);
  return { gateway, url };
}

export async function closeGateways(): Promise<void> {
  const gateways = openGateways.splice(0);
  await Promise.all(gateways.map((gateway) => gateway.close()));
}

export const ask = { messages: [{ role: 'user', content: 'Hi' }] } as const;

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** The `data:` payloads of a whole SSE response body, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length));
}

/** The JSON chunks of an SSE body, without the `[DONE]` marker. */
export function sseChunks(text: string): Array<ChatCompletionChunk & { error?: unknown }> {
  return sseData(text)
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data) as ChatCompletionChunk);
}
