import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/** Where exact-cache answers live: serialized completions by key, with a time to live. */
export interface ExactCacheStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface MemoryExactStoreOptions {
  /** Most entries kept. Default 10,000. */
  maxEntries?: number;
  /** Most bytes kept (UTF-16 length × 2 of the stored JSON). Default 256 MiB. */
  maxBytes?: number;
}

/** In this process, bounded by entries and bytes; the least recently used answers go first. */
export class MemoryExactStore implements ExactCacheStore {
  readonly #cache: LRUCache<string, string>;

  constructor(options: MemoryExactStoreOptions = {}) {
    this.#cache = new LRUCache<string, string>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 256 * 1024 * 1024,
      sizeCalculation: (value, key) => (value.length + key.length) * 2,
      ttlAutopurge: false,
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.#cache.get(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#cache.set(key, value, { ttl: ttlMs });
  }

  get size(): number {
    return this.#cache.size;
  }

  async close(): Promise<void> {
    this.#cache.clear();
  }
}

export interface RedisExactStoreOptions {
  url?: string;
  client?: Redis;
  /** Default `switchyard:cache:`. */
  keyPrefix?: string;
  /** Longest wait for Redis; a slow cache must not slow requests down. Default 250 ms. */
  commandTimeoutMs?: number;
}

/**
 * Shared by every gateway instance. A Redis failure is a cache miss (or a skipped store), never a failed
 * request: the upstream can always answer.
 */
export class RedisExactStore implements ExactCacheStore {
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  /** Lookups and stores that failed because Redis was unreachable. */
  failures = 0;

  constructor(options: RedisExactStoreOptions) {
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else if (options.url) {
      this.#client = new Redis(options.url, {
        // Commands wait for the connection at most `commandTimeout`; each failed reconnect flushes the
        // queue (maxRetriesPerRequest 0), so an outage never piles up cached answers in memory.
        enableOfflineQueue: true,
        // Lookups and stores of concurrent requests issued in one event-loop turn share a write and a
        // read, as the rate limiter's commands do (there: 9–10 % less gateway CPU under load).
        enableAutoPipelining: true,
        maxRetriesPerRequest: 0,
        commandTimeout: options.commandTimeoutMs ?? 250,
        retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      });
      this.#ownsClient = true;
    } else {
      throw new TypeError('RedisExactStore needs a url or a client.');
    }
    this.#client.on('error', () => {});
    this.#prefix = options.keyPrefix ?? 'switchyard:cache:';
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#client.get(this.#prefix + key)) ?? undefined;
    } catch {
      this.failures += 1;
      return undefined;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    try {
      await this.#client.set(this.#prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    } catch {
      this.failures += 1;
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.disconnect();
  }
}
