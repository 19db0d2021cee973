import { ChunkAggregator, responseToChunks } from './aggregate.js';
import type { Cancellation } from './cancellation.js';
import type { ChatContext, EmbeddingsContext, RequestContext, Target } from './context.js';
import { GatewayError, toGatewayError } from './errors.js';
import type { ChatOutcome, EarlyResponse, ErrorDetails, ResponseOutcome, UpstreamCall, UpstreamResult } from './hooks.js';
import type { SseWriter } from './http/sse.js';
import type { Logger } from './logger.js';
import type { Plugin } from './plugin.js';
import type { ProviderCallOptions } from './provider.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  EmbeddingResponse,
  ModelList,
  ModelObject,
} from './wire/openai-types.js';
import type { ProviderRegistry } from './provider-registry.js';

/** How the pipeline answers: a JSON body with its length, or events written to the raw response. */
export interface Responder {
  /** Sends a JSON document, as text or as its UTF-8 bytes, with its length. */
  json(status: number, body: string | Uint8Array): void;
  /** Starts an event stream with `status` and the answer's headers; the writer has the response from then on. */
  startStream(status: number, cancellation: Cancellation): SseWriter;
}

/**
 * The request lifecycle, independent of the HTTP framework:
 *
 *   validate → onRequest* → resolve model → wrapUpstream∘…∘provider → onChunk* → send → onResponse*
 *                     ↘ early answer ─────────────────────────────────↗     any failure → onError*
 */
export class Pipeline {
  readonly #requestPlugins: Plugin[];
  readonly #chunkHooks: Array<NonNullable<Plugin['onChunk']>>;
  readonly #chunkPluginNames: string[];
  readonly #responsePlugins: Plugin[];
  readonly #errorPlugins: Plugin[];
  readonly #upstream: UpstreamCall;
  readonly #providers: ProviderRegistry;
  readonly #logger: Logger;

  constructor(plugins: readonly Plugin[], providers: ProviderRegistry, logger: Logger) {
    this.#providers = providers;
    this.#logger = logger;
    this.#requestPlugins = plugins.filter((plugin) => plugin.onRequest);
    const chunkPlugins = plugins.filter((plugin) => plugin.onChunk);
    this.#chunkHooks = chunkPlugins.map((plugin) => plugin.onChunk!.bind(plugin));
    this.#chunkPluginNames = chunkPlugins.map((plugin) => plugin.name);
    this.#responsePlugins = plugins.filter((plugin) => plugin.onResponse);
    this.#errorPlugins = plugins.filter((plugin) => plugin.onError);
    // The first registered plugin wraps outermost, as with undici interceptors and koa middleware.
    this.#upstream = plugins
      .filter((plugin) => plugin.wrapUpstream)
      .reduceRight<UpstreamCall>((next, plugin) => plugin.wrapUpstream!(next), callProvider);
  }

  async chat(context: ChatContext, responder: Responder): Promise<void> {
    try {
      const hooks = this.#runRequestHooks(context);
      const early = hooks && (await hooks);
      if (early) {
        await this.#answerChat(context, responder, { type: 'response', response: early.response as ChatCompletion, json: early.json, target: context.target! }, early.plugin);
        return;
      }
      context.target ??= this.#providers.resolve(context.body.model);
      const result = await this.#upstream({ context, target: context.target, body: context.body, cancellation: context.cancellation });
      context.target = result.target;
      const answered = this.#answerChat(context, responder, result, 'upstream');
      if (answered) await answered;
    } catch (error) {
      const gatewayError = toGatewayError(error);
      await this.#runErrorHooks(context, gatewayError, { durationMs: performance.now() - context.startedAt });
      throw gatewayError;
    }
  }

  async embeddings(context: EmbeddingsContext, responder: Responder): Promise<void> {
    try {
      const hooks = this.#runRequestHooks(context);
      const early = hooks && (await hooks);
      let response: EmbeddingResponse;
      let json: string | Uint8Array | undefined;
      let answeredBy = 'upstream';
      if (early) {
        response = early.response as EmbeddingResponse;
        json = early.json;
        answeredBy = early.plugin;
      } else {
        const target = (context.target ??= this.#providers.resolve(context.body.model));
        if (!target.provider.embeddings) {
          throw GatewayError.invalidRequest(`The model '${context.body.model}' does not support embeddings.`, 'model', 'model_not_supported');
        }
        response = await target.provider.embeddings(target.modelId, context.body, providerCallOptions(context.cancellation, context.id));
        this.#setServedHeaders(context);
      }
      await this.#sendWhole(context, responder, 'embeddings', response, json, answeredBy);
    } catch (error) {
      const gatewayError = toGatewayError(error);
      await this.#runErrorHooks(context, gatewayError, { durationMs: performance.now() - context.startedAt });
      throw gatewayError;
    }
  }

  /** `GET /v1/models`, or one model when `modelName` is given; plugins (authentication) run first. */
  async models(context: RequestContext<undefined>, responder: Responder, modelName?: string): Promise<void> {
    const hooks = this.#runRequestHooks(context);
    const early = hooks && (await hooks);
    if (early) {
      responder.json(200, early.json ?? JSON.stringify(early.response));
      return;
    }
    if (modelName !== undefined) {
      const target = this.#providers.resolve(modelName);
      const model: ModelObject = { id: modelName, object: 'model', created: 0, owned_by: target.provider.id };
      responder.json(200, JSON.stringify(model));
      return;
    }
    responder.json(200, JSON.stringify(await this.listModels(context.signal)));
  }

  async listModels(signal: AbortSignal): Promise<ModelList> {
    const data: ModelObject[] = [];
    const lists = await Promise.allSettled(
      this.#providers.list().map(async (provider) => ({ provider, models: provider.listModels ? await provider.listModels({ signal }) : [] })),
    );
    for (const list of lists) {
      if (list.status === 'rejected') {
        // One unreachable provider must not hide the others' models.
        this.#logger.warn({ err: list.reason }, 'listing models failed for a provider');
        continue;
      }
      const { provider, models } = list.value;
      for (const model of models) {
        const entry: ModelObject = { id: `${provider.id}/${model.id}`, object: 'model', created: model.created ?? 0, owned_by: model.ownedBy ?? provider.id };
        // Limits the provider or the model catalog knows, for clients that size prompts before sending.
        if (model.contextWindow !== undefined) entry.context_window = model.contextWindow;
        if (model.maxOutputTokens !== undefined) entry.max_output_tokens = model.maxOutputTokens;
        data.push(entry);
      }
    }
    for (const [alias] of this.#providers.aliases()) {
      data.push({ id: alias, object: 'model', created: 0, owned_by: 'switchyard' });
    }
    return { object: 'list', data };
  }

  #runRequestHooks(context: RequestContext<any>): Promise<(EarlyResponse & { plugin: string }) | undefined> | undefined {
    // No promise to make and await when no plugin looks at requests.
    return this.#requestPlugins.length === 0 ? undefined : this.#runRequestHooksAsync(context);
  }

  async #runRequestHooksAsync(context: RequestContext<any>): Promise<(EarlyResponse & { plugin: string }) | undefined> {
    for (const plugin of this.#requestPlugins) {
      const returned = plugin.onRequest!(context);
      // A hook that answered synchronously is not awaited: one microtask turn less per plugin.
      const early = isPromiseLike(returned) ? await returned : returned;
      if (early) {
        if (early.headers) for (const name in early.headers) context.setHeader(name, early.headers[name]!);
        return { ...early, plugin: plugin.name };
      }
    }
    return undefined;
  }

  #runResponseHooks(context: RequestContext<any>, outcome: ResponseOutcome): Promise<void> | undefined {
    return this.#responsePlugins.length === 0 ? undefined : this.#runResponseHooksAsync(context, outcome);
  }

  async #runResponseHooksAsync(context: RequestContext<any>, outcome: ResponseOutcome): Promise<void> {
    for (const plugin of this.#responsePlugins) {
      try {
        const returned = plugin.onResponse!(context, outcome);
        if (isPromiseLike(returned)) await returned;
      } catch (error) {
        // An observer failing must never cost the client its answer.
        context.logger.error({ err: error, plugin: plugin.name }, 'onResponse hook failed');
      }
    }
  }

  async #runErrorHooks(context: RequestContext<any>, error: GatewayError, details: ErrorDetails): Promise<void> {
    for (const plugin of this.#errorPlugins) {
      try {
        await plugin.onError!(context, error, details);
      } catch (hookError) {
        context.logger.error({ err: hookError, plugin: plugin.name }, 'onError hook failed');
      }
    }
  }

  #setServedHeaders(context: RequestContext<any>): void {
    const target = context.target;
    if (target) {
      context.setHeader('x-switchyard-provider', target.provider.id);
      context.setHeader('x-switchyard-model', target.model);
    }
    if (context.attempts.length > 0) context.setHeader('x-switchyard-attempts', String(context.attempts.length));
  }

  /**
   * Sends the answer as the client asked for it. Undefined when it is already sent: a JSON answer with no
   * response hook to run needs no promise (nor the microtask turns of awaiting one).
   */
  #answerChat(context: ChatContext, responder: Responder, result: UpstreamResult, answeredBy: string): Promise<void> | undefined {
    this.#setServedHeaders(context);
    const wantsStream = context.body.stream === true;
    if (result.type === 'stream' && wantsStream) return this.#streamChat(context, responder, result.stream, answeredBy);
    if (result.type === 'response' && wantsStream) return this.#streamChat(context, responder, toAsyncIterable(responseToChunks(result.response)), answeredBy);
    if (result.type === 'stream') return collectStream(result.stream).then((response) => this.#sendWhole(context, responder, 'chat', response, undefined, answeredBy));
    return this.#sendWhole(context, responder, 'chat', result.response, result.json, answeredBy);
  }

  /** Runs the response hooks first (they may still set headers), then sends the whole answer as JSON. */
  #sendWhole(
    context: RequestContext<any>,
    responder: Responder,
    operation: 'chat' | 'embeddings',
    response: ChatCompletion | EmbeddingResponse,
    json: string | Uint8Array | undefined,
    answeredBy: string,
  ): Promise<void> | undefined {
    if (this.#responsePlugins.length === 0) {
      responder.json(200, json ?? JSON.stringify(response));
      return undefined;
    }
    return this.#sendWholeAfterHooks(context, responder, operation, response, json, answeredBy);
  }

  async #sendWholeAfterHooks(
    context: RequestContext<any>,
    responder: Responder,
    operation: 'chat' | 'embeddings',
    response: ChatCompletion | EmbeddingResponse,
    json: string | Uint8Array | undefined,
    answeredBy: string,
  ): Promise<void> {
    const outcome = new Outcome(operation, response, response.usage, false, false, answeredBy, context.target, performance.now() - context.startedAt, json);
    await this.#runResponseHooksAsync(context, outcome as ResponseOutcome);
    // The text a hook had made (the cache, to store it) is the text sent: one serialisation, not two.
    responder.json(200, outcome.responseBody());
  }

  #applyChunkHooks(chunk: ChatCompletionChunk, context: ChatContext): ChatCompletionChunk | null {
    let current = chunk;
    for (let index = 0; index < this.#chunkHooks.length; index++) {
      try {
        const replaced = this.#chunkHooks[index]!(current, context);
        if (replaced === null) return null;
        if (replaced !== undefined) current = replaced;
      } catch (error) {
        // A broken observer keeps the chunk as it was rather than breaking the client's stream.
        context.logger.error({ err: error, plugin: this.#chunkPluginNames[index] }, 'onChunk hook failed');
      }
    }
    return current;
  }

  async #streamChat(
    context: ChatContext,
    responder: Responder,
    stream: AsyncIterable<ChatCompletionChunk>,
    answeredBy: string,
  ): Promise<void> {
    const aggregator = new ChunkAggregator();
    const includeUsage = context.body.stream_options?.include_usage === true;
    const iterator = stream[Symbol.asyncIterator]();
    let writer: SseWriter | undefined;
    let aborted = false;
    let finished = false;
    let failure: GatewayError | undefined;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          finished = true;
          break;
        }
        const chunk = this.#applyChunkHooks(next.value, context);
        if (chunk === null) continue;
        aggregator.add(chunk);
        const outgoing = includeUsage ? chunk : withoutUsage(chunk);
        if (outgoing === null) continue;
        if (!writer) {
          // Headers wait for the first chunk: a stream that fails before it still gets a real HTTP status.
          writer = responder.startStream(200, context.cancellation);
          context.timeToFirstChunkMs = performance.now() - context.startedAt;
        }
        const written = writer.data(JSON.stringify(outgoing));
        if (written !== true && !(await written)) {
          aborted = true;
          break;
        }
      }
    } catch (error) {
      if (context.cancellation.aborted) aborted = true;
      else if (!writer) throw error;
      else failure = toGatewayError(error);
    } finally {
      if (!finished) {
        // Stops the upstream stream when we leave early (client gone, error): no orphaned generation.
        void iterator.return?.()?.catch(() => {});
      }
    }
    if (!aborted && !failure && !aggregator.hasFinishReason()) {
      // An upstream that ends without a finish reason was cut off; saying "stop" would be a lie.
      failure = GatewayError.badGateway('The upstream stream ended before the answer was complete.', context.target?.provider.id);
      if (!writer) throw failure;
    }
    const durationMs = () => performance.now() - context.startedAt;
    if (failure) {
      await writer!.data(JSON.stringify(failure.toJSON()));
      writer!.end();
      await this.#runErrorHooks(context, failure, { partial: aggregator.result(), durationMs: durationMs() });
      return;
    }
    if (!aborted) {
      await writer!.data('[DONE]');
      writer!.end();
    } else {
      writer?.end();
    }
    const response = aggregator.result();
    const outcome = new Outcome('chat', response, aggregator.usage, true, aborted, answeredBy, context.target, durationMs(), undefined) as ChatOutcome;
    await this.#runResponseHooks(context, outcome);
  }
}

/** What `onResponse` hooks get; `responseJson` serialises the answer once for every hook and the send. */
class Outcome {
  #json: string | Uint8Array | undefined;

  constructor(
    readonly operation: 'chat' | 'embeddings',
    readonly response: ChatCompletion | EmbeddingResponse,
    readonly usage: ResponseOutcome['usage'],
    readonly streamed: boolean,
    readonly aborted: boolean,
    readonly answeredBy: string,
    readonly target: Target | undefined,
    readonly durationMs: number,
    json: string | Uint8Array | undefined,
  ) {
    this.#json = json;
  }

  responseJson(): string {
    if (typeof this.#json !== 'string') this.#json = this.#json === undefined ? JSON.stringify(this.response) : utf8Text(this.#json);
    return this.#json;
  }

  /** What the client is sent: the bytes the provider had, unless a hook asked for the text. */
  responseBody(): string | Uint8Array {
    return this.#json ?? this.responseJson();
  }
}

function utf8Text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The innermost upstream call: the provider itself, recorded as one attempt. */
const callProvider: UpstreamCall = async ({ context, target, body, cancellation }) => {
  const attempt = { model: target.model, provider: target.provider.id, startedAt: performance.now() } as RequestContext['attempts'][number];
  context.attempts.push(attempt);
  try {
    const result = await target.provider.chat(target.modelId, body, providerCallOptions(cancellation, context.id));
    attempt.status = 200;
    attempt.durationMs = performance.now() - attempt.startedAt;
    return result.type === 'response' ? { type: 'response', response: result.response, json: result.json, target } : { type: 'stream', stream: result.stream, target };
  } catch (error) {
    const gatewayError = toGatewayError(error);
    attempt.status = gatewayError.status;
    attempt.errorType = gatewayError.type;
    attempt.durationMs = performance.now() - attempt.startedAt;
    throw gatewayError;
  }
};

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}

/** Removes the usage the gateway asked the provider for but the client did not. */
function withoutUsage(chunk: ChatCompletionChunk): ChatCompletionChunk | null {
  if (!('usage' in chunk)) return chunk;
  if (chunk.choices.length === 0) return null;
  const { usage: _usage, ...rest } = chunk;
  return rest as ChatCompletionChunk;
}

async function collectStream(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletion> {
  const aggregator = new ChunkAggregator();
  for await (const chunk of stream) aggregator.add(chunk);
  if (!aggregator.hasFinishReason()) {
    throw GatewayError.badGateway('The upstream stream ended before the answer was complete.');
  }
  return aggregator.result();
}

async function* toAsyncIterable<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/**
 * A provider call's options with `signal` as an own getter: a real AbortSignal is made only when the adapter
 * reads it, and adapters that listen through `cancellation` never do. Own and enumerable, so a spread of the
 * options still carries the signal (it reads it); defined with one shared descriptor because an object
 * literal with a getter costs about three times as much to build.
 */
function providerCallOptions(cancellation: Cancellation, requestId: string): ProviderCallOptions {
  return Object.defineProperty({ requestId, cancellation }, 'signal', lazySignal) as ProviderCallOptions;
}

const lazySignal: PropertyDescriptor = {
  get(this: { cancellation: Cancellation }) {
    return this.cancellation.signal;
  },
  enumerable: true,
  configurable: true,
};
