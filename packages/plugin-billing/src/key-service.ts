import { GatewayError } from '@switchyard/core';
import { LRUCache } from 'lru-cache';
import { constantTimeEqual, displayPrefix, generateKey, generateKeyId, hashKey, isVirtualKeyFormat } from './keys.js';
import type { BillingStore, KeyPatch, KeyWithBalance, NewKeyRecord, VirtualKey } from './store/billing-store.js';

interface CachedLookup {
  key: VirtualKey | null;
  keyHash: string;
}

export interface KeyServiceOptions {
  /** How long a looked-up key is trusted before it is read again. Default 5 s. */
  cacheTtlMs?: number;
  /** Keys remembered at once. Default 10,000. */
  cacheSize?: number;
  now: () => number;
}

/** Why a presented key was refused, with the key's id when the key exists (for the ledger). */
export interface KeyRejection {
  error: GatewayError;
  keyId: string | null;
}

function identityOf(key: KeyWithBalance | VirtualKey): VirtualKey {
  return {
    id: key.id,
    name: key.name,
    key_prefix: key.key_prefix,
    models: key.models,
    max_budget_usd: key.max_budget_usd,
    budget_period: key.budget_period,
    rpm: key.rpm,
    tpm: key.tpm,
    max_concurrency: key.max_concurrency,
    expires_at: key.expires_at,
    metadata: key.metadata,
    prepaid: key.prepaid,
    created_at: key.created_at,
    updated_at: key.updated_at,
    revoked_at: key.revoked_at,
  };
}

/**
 * Creates, finds and changes virtual keys. Lookups are cached for a few seconds (a request must not cost
 * a database round trip just to authenticate), and every change made through this service drops the
 * key from the cache at once: revoking a key here refuses its very next request here. Other gateways
 * sharing the database see the change within the cache lifetime.
 */
export class KeyService {
  readonly #store: BillingStore;
  readonly #cache: LRUCache<string, CachedLookup>;
  readonly #hashById = new Map<string, string>();
  readonly #now: () => number;

  constructor(store: BillingStore, options: KeyServiceOptions) {
    this.#store = store;
    this.#now = options.now;
    this.#cache = new LRUCache<string, CachedLookup>({
      max: options.cacheSize ?? 10_000,
      ttl: options.cacheTtlMs ?? 5_000,
      // Expired entries are kept until replaced, so a database outage can fall back on them.
      noDeleteOnStaleGet: true,
      dispose: (value) => {
        if (value.key && this.#hashById.get(value.key.id) === value.keyHash) this.#hashById.delete(value.key.id);
      },
    });
  }

  /** Finds the key a secret belongs to; throws an OpenAI-shaped 401 for unknown, revoked and expired keys. */
  async authenticate(secret: string): Promise<VirtualKey> {
    const rejection = await this.check(secret);
    if ('error' in rejection) throw rejection.error;
    return rejection;
  }

  /** Like `authenticate`, but returns the refusal (and the key id, when the key exists) instead of throwing. */
  async check(secret: string): Promise<VirtualKey | KeyRejection> {
    if (!isVirtualKeyFormat(secret)) {
      return { error: GatewayError.authentication('Incorrect API key provided. Keys for this gateway start with sk-sy-.'), keyId: null };
    }
    const keyHash = hashKey(secret);
    let cached = this.#cache.get(keyHash);
    if (!cached) {
      let found: Awaited<ReturnType<BillingStore['findKeyByHash']>>;
      try {
        found = await this.#store.findKeyByHash(keyHash, this.#now());
      } catch (error) {
        // The database is unreachable: a key seen recently is still known (revocations made here
        // have already removed theirs); an unknown one cannot be checked.
        const stale = this.#cache.get(keyHash, { allowStale: true });
        if (stale) return this.#verdict(stale.key, secret);
        throw new GatewayError({
          message: 'The gateway cannot check API keys right now. Retry shortly.',
          status: 503,
          type: 'service_unavailable',
          code: 'billing_unavailable',
          isRetryable: true,
          retryAfterMs: 1_000,
          cause: error,
        });
      }
      // The database found the row by its hash; comparing again in constant time costs nothing and
      // keeps the check honest should the lookup ever change (a prefix index, say).
      const key = found && constantTimeEqual(found.key_hash, keyHash) ? identityOf(found) : null;
      cached = { key, keyHash };
      this.#cache.set(keyHash, cached);
      if (key) this.#hashById.set(key.id, keyHash);
    }
    return this.#verdict(cached.key, secret);
  }

  #verdict(key: VirtualKey | null, secret: string): VirtualKey | KeyRejection {
    if (!key) return { error: GatewayError.authentication(`Incorrect API key provided: ${displayPrefix(secret)}…. Check the key, or ask for a new one.`), keyId: null };
    if (key.revoked_at !== null) return { error: GatewayError.authentication(`The API key ${key.key_prefix}… has been revoked.`), keyId: key.id };
    if (key.expires_at !== null && Date.parse(key.expires_at) <= this.#now()) {
      return { error: GatewayError.authentication(`The API key ${key.key_prefix}… expired at ${key.expires_at}.`), keyId: key.id };
    }
    return key;
  }

  /** Drops a key from the cache so its next request reads the database. */
  forget(id: string, keyHash?: string): void {
    const known = this.#hashById.get(id);
    if (known) this.#cache.delete(known);
    if (keyHash) this.#cache.delete(keyHash);
    this.#hashById.delete(id);
  }

  async create(input: Omit<NewKeyRecord, 'id' | 'keyHash' | 'keyPrefix'>): Promise<{ key: KeyWithBalance; secret: string }> {
    const secret = generateKey();
    const key = await this.#store.createKey({ ...input, id: generateKeyId(), keyHash: hashKey(secret), keyPrefix: displayPrefix(secret) }, this.#now());
    return { key, secret };
  }

  async update(id: string, patch: KeyPatch): Promise<KeyWithBalance | undefined> {
    const key = await this.#store.updateKey(id, patch, this.#now());
    this.forget(id);
    return key;
  }

  async revoke(id: string): Promise<KeyWithBalance | undefined> {
    const key = await this.#store.revokeKey(id, this.#now());
    this.forget(id);
    return key;
  }

  async rotate(id: string): Promise<{ key: KeyWithBalance; secret: string } | undefined> {
    const secret = generateKey();
    const rotated = await this.#store.rotateKey(id, hashKey(secret), displayPrefix(secret), this.#now());
    if (!rotated) return undefined;
    this.forget(id, rotated.previousHash);
    return { key: rotated.key, secret };
  }

  async addCredits(id: string, amountUsd: string): Promise<{ key?: KeyWithBalance; insufficient?: boolean }> {
    const result = await this.#store.addCredits(id, amountUsd, this.#now());
    // The first grant makes a key prepaid, which changes how its requests are admitted.
    this.forget(id);
    return result;
  }
}
