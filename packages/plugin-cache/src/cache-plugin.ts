import {
  type ChatCompletion,
  type ChatContext,
  type EarlyResponse,
  GatewayError,
  type Plugin,
  type ProviderRegistry,
  type RequestContext,
  type UpstreamCall,
} from '@switchyard/core';
import { exactCacheKey, finalUserText, semanticPartition } from './cache-key.js';
import { Coalescer } from './coalescer.js';
import { type ExactCacheStore, MemoryExactStore, type MemoryExactStoreOptions, RedisExactStore } from './exact-store.js';
import { type Embedder, LocalEmbedder, normalize } from './local-embedder.js';
import { RedisSemanticSharing, SemanticCache } from './semantic-cache.js';

export type CacheStatus = 'hit' | 'semantic-hit' | 'miss' | 'bypass';

export interface SemanticOptions {
  /**
   * `local` (default): the built-in hashing embedder, no network. Or `provider/model`: an embedding model
   * served by this gateway's own providers (e.g. `openai/text-embedding-3-small`). Or an Embedder.
   */
  embedder?: 'local' | (string & {}) | Embedder;
  /** Cosine similarity at or above which a stored answer is served. Default 0.8 local, 0.92 with a provider model. */
  threshold?: number;
  /** Entries in the in-memory vector index. Default 100,000. */
  maxEntries?: number;
}

export interface CacheOptions {
  /** `memory` (default) or `{ redis: { url } }` to share answers across instances, or a store of your own. */
  store?: 'memory' | { memory: MemoryExactStoreOptions } | { redis: { url: string; keyPrefix?: string } } | ExactCacheStore;
  /** How long answers are kept. Default 1 hour; a request may ask for less or more with `x-switchyard-cache-ttl`, up to `maxTtlMs`. */
  ttlMs?: number;
  maxTtlMs?: number;
  /** Semantic cache; off unless given. */
  semantic?: SemanticOptions | false;
  /** Share identical in-flight requests' upstream call. Default true. */
  coalesce?: boolean;
  /**
   * Whose answers a request may see. Default: the virtual key on `context.state.virtualKey`, else the value
   * of `scopeHeader`, else one shared scope for unauthenticated traffic.
   */
  scope?: (context: RequestContext) => string;
  /** A header naming the tenant when there are no virtual keys, e.g. `x-tenant-id`. */
  scopeHeader?: string;
  /** Per-request switch; default reads the key record: `metadata.cache` of `false` or `"off"` turns caching off. */
  enabledFor?: (context: RequestContext) => boolean;
}

interface CacheState {
  status: CacheStatus;
  key?: string;
  partition?: string;
  vector?: Float32Array;
  store: boolean;
  ttlMs: number;
}

declare module '@switchyard/core' {
  interface RequestState {
    cache?: CacheState;
  }
}

export interface CachePlugin extends Plugin {
  readonly store: ExactCacheStore;
  readonly semantic: SemanticCache | undefined;
  readonly coalescer: Coalescer;
}

interface KeyRecordShape {
  id: string;
  metadata?: Record<string, unknown> | null;
}

/** Answers fit to be served again: every choice finished, none cut short by the client or an error. */
function isComplete(response: ChatCompletion): boolean {
  return response.choices.length > 0 && response.choices.every((choice) => choice.finish_reason !== null);
}

/** Parses the `cache-control` directives the gateway honours. */
function cacheControl(header: string | string[] | undefined): { noCache: boolean; noStore: boolean } {
  const value = (Array.isArray(header) ? header.join(',') : (header ?? '')).toLowerCase();
  return { noCache: /(^|[,\s])no-cache($|[,\s=])/.test(value), noStore: /(^|[,\s])no-store($|[,\s])/.test(value) };
}

/** An embedder that asks one of the gateway's own providers for embeddings. */
export class ProviderEmbedder implements Embedder {
  readonly id: string;
  readonly #model: string;
  #providers: ProviderRegistry | undefined;

  constructor(model: string) {
    this.#model = model;
    this.id = `provider-${model}`;
  }

  attach(providers: ProviderRegistry): void {
    this.#providers = providers;
  }

  async embed(texts: readonly string[], signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<Float32Array[]> {
    if (!this.#providers) throw new Error('The provider embedder is used before the gateway set it up.');
    const target = this.#providers.resolve(this.#model);
    if (!target.provider.embeddings) throw new Error(`The model '${this.#model}' has no embeddings.`);
    const response = await target.provider.embeddings(target.modelId, { model: target.modelId, input: [...texts] }, { signal, requestId: 'semantic-cache' });
    return response.data
      .sort((a, b) => a.index - b.index)
      .map((item) => {
        if (typeof item.embedding === 'string') throw new Error('Expected float embeddings.');
        return normalize(Float32Array.from(item.embedding));
      });
  }
}

/**
 * Exact cache, request coalescing and semantic cache. Lookups happen in `onRequest` (a hit answers without
 * an upstream call, as JSON or replayed as a stream); identical in-flight requests share one call in
 * `wrapUpstream`; complete answers are stored in `onResponse`. Every entry is scoped to its tenant.
 */
export function createCachePlugin(options: CacheOptions = {}): CachePlugin {
  const configured = options.store ?? 'memory';
  const store: ExactCacheStore =
    configured === 'memory'
      ? new MemoryExactStore()
      : 'memory' in configured
        ? new MemoryExactStore(configured.memory)
        : 'redis' in configured
          ? new RedisExactStore(configured.redis)
          : configured;
  const defaultTtlMs = options.ttlMs ?? 3_600_000;
  const maxTtlMs = options.maxTtlMs ?? 7 * 24 * 3_600_000;
  const coalescer = new Coalescer();
  const coalesce = options.coalesce ?? true;

  let semantic: SemanticCache | undefined;
  let providerEmbedder: ProviderEmbedder | undefined;
  /** Set when a provider embedder must answer once before its vector size, and so the index, is known. */
  let semanticFactory: ((vectorLength: number) => SemanticCache) | undefined;
  if (options.semantic) {
    const configuredEmbedder = options.semantic.embedder ?? 'local';
    let embedder: Embedder;
    let dimensions: number | undefined;
    if (configuredEmbedder === 'local') {
      const local = new LocalEmbedder();
      embedder = local;
      dimensions = local.dimensions;
    } else if (typeof configuredEmbedder === 'string') {
      providerEmbedder = new ProviderEmbedder(configuredEmbedder);
      embedder = providerEmbedder;
    } else {
      embedder = configuredEmbedder;
    }
    const threshold = options.semantic.threshold ?? (configuredEmbedder === 'local' ? 0.8 : 0.92);
    if (!(threshold > 0 && threshold <= 1)) throw new RangeError('The semantic threshold must be in (0, 1].');
    const sharing =
      typeof configured === 'object' && 'redis' in configured
        ? new RedisSemanticSharing({ url: configured.redis.url, embedderId: embedder.id })
        : undefined;
    semantic = dimensions === undefined ? undefined : new SemanticCache({ embedder, dimensions, threshold, maxEntries: options.semantic.maxEntries, sharing });
    if (!semantic) {
      // A provider's dimensions are known from its first answer; the index is created then.
      const pending = { embedder, threshold, maxEntries: options.semantic.maxEntries, sharing };
      semanticFactory = (vectorLength: number) =>
        (semantic ??= new SemanticCache({ ...pending, dimensions: vectorLength }));
    }
  }

  const scopeOf =
    options.scope ??
    ((context: RequestContext) => {
      const key = (context.state as { virtualKey?: KeyRecordShape }).virtualKey;
      if (key) return `key:${key.id}`;
      const header = options.scopeHeader ? context.headers[options.scopeHeader.toLowerCase()] : undefined;
      if (typeof header === 'string' && header !== '') return `header:${header}`;
      return 'anonymous';
    });
  const enabledFor =
    options.enabledFor ??
    ((context: RequestContext) => {
      const metadata = (context.state as { virtualKey?: KeyRecordShape }).virtualKey?.metadata;
      const flag = metadata?.cache;
      return flag !== false && flag !== 'off';
    });

  function requestTtl(context: RequestContext): number {
    const header = context.headers['x-switchyard-cache-ttl'];
    if (header === undefined) return defaultTtlMs;
    const seconds = Number(Array.isArray(header) ? header[0] : header);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds * 1000 > maxTtlMs) {
      throw GatewayError.invalidRequest(
        `The header 'x-switchyard-cache-ttl' must be a number of seconds from 1 to ${maxTtlMs / 1000}.`,
        'x-switchyard-cache-ttl',
        'invalid_value',
      );
    }
    return seconds * 1000;
  }

  async function embedFinalTurn(context: ChatContext): Promise<{ partition: string; vector: Float32Array } | undefined> {
    if (!options.semantic) return undefined;
    const text = finalUserText(context.body);
    if (text === undefined) return undefined;
    const embedder = semantic?.embedder ?? providerEmbedder!;
    let vector: Float32Array;
    try {
      [vector] = (await embedder.embed([text], context.signal)) as [Float32Array];
    } catch (error) {
      // No embedding, no semantic lookup: the request goes upstream as it would without the cache.
      context.logger.warn({ err: error }, 'semantic cache: embedding failed');
      return undefined;
    }
    semanticFactory?.(vector.length);
    const model = context.target?.model ?? context.resolveModel(context.body.model).model;
    return { partition: semanticPartition(scopeOf(context), context.body, model), vector };
  }

  const wrapUpstream = (next: UpstreamCall): UpstreamCall =>
    async (request) => {
      const state = request.context.state.cache;
      if (!coalesce || !state?.key) return next(request);
      // Streams and JSON are answered differently upstream, so only like requests share a call.
      const result = await coalescer.run(`${state.key}:${request.body.stream === true}`, request, next);
      if (result.coalesced) request.context.setHeader('x-switchyard-coalesced', 'true');
      return result;
    };

  return {
    name: 'cache',
    store,
    get semantic() {
      return semantic;
    },
    coalescer,
    setup({ providers }) {
      providerEmbedder?.attach(providers);
    },
    async onRequest(context): Promise<EarlyResponse | undefined> {
      if (context.operation !== 'chat') return;
      const chatContext = context as ChatContext;
      if (!enabledFor(context)) {
        context.setHeader('x-switchyard-cache', 'bypass');
        return;
      }
      const control = cacheControl(context.headers['cache-control']);
      const ttlMs = requestTtl(context);
      let model: string;
      try {
        model = (context.target ?? context.resolveModel(chatContext.body.model)).model;
      } catch {
        // Unknown model: the gateway answers 404 next.
        return;
      }
      const key = exactCacheKey(scopeOf(context), chatContext.body, model);
      const state: CacheState = { status: control.noCache ? 'bypass' : 'miss', key, store: !control.noStore, ttlMs };
      context.state.cache = state;
      context.setHeader('x-switchyard-cache', state.status);
      if (control.noCache) {
        if (state.store) Object.assign(state, await embedFinalTurn(chatContext));
        return;
      }
      const cached = await store.get(key);
      if (cached !== undefined) {
        state.status = 'hit';
        return { response: JSON.parse(cached) as ChatCompletion, json: cached, headers: { 'x-switchyard-cache': 'hit' } };
      }
      // Without a semantic cache there is nothing to embed: no await either.
      const embedded = semantic ? await embedFinalTurn(chatContext) : undefined;
      if (embedded && semantic) {
        Object.assign(state, embedded);
        const hit = await semantic.lookup(embedded.partition, embedded.vector);
        if (hit) {
          state.status = 'semantic-hit';
          return {
            response: JSON.parse(hit.value) as ChatCompletion,
            json: hit.value,
            headers: { 'x-switchyard-cache': 'semantic-hit', 'x-switchyard-cache-similarity': hit.similarity.toFixed(4) },
          };
        }
      }
    },
    wrapUpstream,
    onResponse(context, outcome) {
      const state = context.state.cache;
      if (!state?.key || !state.store || outcome.operation !== 'chat') return;
      if (outcome.answeredBy !== 'upstream' || outcome.aborted || !isComplete(outcome.response)) return;
      const serialized = outcome.responseJson();
      const expiresAt = Date.now() + state.ttlMs;
      // Stored after the answer is on its way: a slow cache write never delays a client.
      const writes: Array<Promise<void>> = [store.set(state.key, serialized, state.ttlMs)];
      if (semantic && state.partition && state.vector) writes.push(semantic.store({ partition: state.partition, vector: state.vector, response: serialized, expiresAt }));
      void Promise.all(writes).catch((error: unknown) => context.logger.warn({ err: error }, 'cache store failed'));
    },
    async onClose() {
      await Promise.all([store.close(), semantic?.close()]);
    },
  };
}
