import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Embedder } from './local-embedder.js';
import { type SearchHit, VectorIndex } from './vector-index.js';

export interface SemanticEntry {
  partition: string;
  vector: Float32Array;
  /** The serialized completion. */
  response: string;
  expiresAt: number;
}

/** Shares semantic entries between gateway instances. */
export interface SemanticSharing {
  /** Entries other instances stored for a partition, fetched once per partition. */
  load(partition: string): Promise<SemanticEntry[]>;
  publish(entry: SemanticEntry): Promise<void>;
  /** Called with entries other instances store from now on. */
  subscribe(listener: (entry: SemanticEntry) => void): Promise<void>;
  close(): Promise<void>;
}

export interface SemanticCacheOptions {
  embedder: Embedder;
  dimensions: number;
  /** Cosine similarity at or above which a stored answer is served. */
  threshold: number;
  maxEntries?: number;
  sharing?: SemanticSharing;
}

/**
 * Answers a request whose final user turn means the same as one answered before, within the same partition
 * (tenant, model, system prompt, earlier turns, tools and parameters all equal). Vectors are kept in an
 * in-memory LSH index; with Redis sharing, every instance learns the entries the others store.
 */
export class SemanticCache {
  readonly #index: VectorIndex<string>;
  readonly #options: SemanticCacheOptions;
  readonly #loaded = new LRUCache<string, Promise<void>>({ max: 10_000 });

  constructor(options: SemanticCacheOptions) {
    this.#options = options;
    this.#index = new VectorIndex<string>({ dimensions: options.dimensions, maxEntries: options.maxEntries });
    void options.sharing?.subscribe((entry) => this.#insert(entry));
  }

  get size(): number {
    return this.#index.size;
  }

  get embedder(): Embedder {
    return this.#options.embedder;
  }

  async embed(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const [vector] = await this.#options.embedder.embed([text], signal);
    return vector!;
  }

  async lookup(partition: string, vector: Float32Array, now = Date.now()): Promise<SearchHit<string> | undefined> {
    const sharing = this.#options.sharing;
    if (sharing) {
      let loading = this.#loaded.get(partition);
      if (!loading) {
        loading = sharing.load(partition).then(
          (entries) => entries.forEach((entry) => this.#insert(entry)),
          () => {
            // Try again on the next lookup; meanwhile this instance's own entries still serve.
            this.#loaded.delete(partition);
          },
        );
        this.#loaded.set(partition, loading);
      }
      await loading;
    }
    return this.#index.search(partition, vector, this.#options.threshold, now);
  }

  async store(entry: SemanticEntry): Promise<void> {
    this.#insert(entry);
    await this.#options.sharing?.publish(entry);
  }

  #insert(entry: SemanticEntry): void {
    if (entry.vector.length !== this.#options.dimensions || entry.expiresAt <= Date.now()) return;
    this.#index.add(entry.partition, entry.vector, entry.response, entry.expiresAt);
  }

  async close(): Promise<void> {
    await this.#options.sharing?.close();
  }
}

interface WireEntry {
  origin: string;
  partition: string;
  vector: string;
  response: string;
  expiresAt: number;
}

/**
 * Redis sharing: each partition is a hash of entries (expiring with its newest entry), and new entries are
 * announced on a channel so running instances add them at once. Failures leave each instance with its own
 * entries: sharing is an optimisation, never a reason to fail a request.
 */
export class RedisSemanticSharing implements SemanticSharing {
  readonly #client: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #origin = randomUUID();
  readonly #channel: string;

  constructor(options: { url: string; keyPrefix?: string; commandTimeoutMs?: number; embedderId: string }) {
    const clientOptions = {
      // As for the exact store: bounded waits for the connection, flushed on every failed reconnect.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    };
    this.#client = new Redis(options.url, clientOptions);
    this.#subscriber = new Redis(options.url, { ...clientOptions, commandTimeout: undefined });
    this.#client.on('error', () => {});
    this.#subscriber.on('error', () => {});
    // Vectors from different embedders live apart: they are not comparable.
    this.#prefix = `${options.keyPrefix ?? 'switchyard:semantic:'}${options.embedderId}:`;
    this.#channel = `${this.#prefix}new`;
  }

  #encode(entry: SemanticEntry): string {
    const wire: WireEntry = {
      origin: this.#origin,
      partition: entry.partition,
      vector: Buffer.from(entry.vector.buffer, entry.vector.byteOffset, entry.vector.byteLength).toString('base64'),
      response: entry.response,
      expiresAt: entry.expiresAt,
    };
    return JSON.stringify(wire);
  }

  #decode(text: string): (SemanticEntry & { origin: string }) | undefined {
    try {
      const wire = JSON.parse(text) as WireEntry;
      const bytes = Buffer.from(wire.vector, 'base64');
      const vector = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return { origin: wire.origin, partition: wire.partition, vector, response: wire.response, expiresAt: wire.expiresAt };
    } catch {
      return undefined;
    }
  }

  async load(partition: string): Promise<SemanticEntry[]> {
    const fields = await this.#client.hgetall(this.#prefix + partition);
    const now = Date.now();
    return Object.values(fields)
      .map((text) => this.#decode(text))
      .filter((entry): entry is SemanticEntry & { origin: string } => entry !== undefined && entry.expiresAt > now);
  }

  async publish(entry: SemanticEntry): Promise<void> {
    const encoded = this.#encode(entry);
    const key = this.#prefix + entry.partition;
    try {
      await this.#client
        .multi()
        .hset(key, randomUUID(), encoded)
        .pexpireat(key, Math.ceil(entry.expiresAt), 'GT')
        .pexpireat(key, Math.ceil(entry.expiresAt), 'NX')
        .publish(this.#channel, encoded)
        .exec();
    } catch {
      // Another instance will answer this question itself.
    }
  }

  async subscribe(listener: (entry: SemanticEntry) => void): Promise<void> {
    this.#subscriber.on('message', (_channel: string, message: string) => {
      const entry = this.#decode(message);
      if (entry && entry.origin !== this.#origin) listener(entry);
    });
    await this.#subscriber.subscribe(this.#channel).catch(() => {});
  }

  async close(): Promise<void> {
    this.#client.disconnect();
    this.#subscriber.disconnect();
  }
}
