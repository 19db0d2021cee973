import { type AdmitResult, gcra, type RateLimitRule, type RateLimitStore, type RateRule, type RuleOutcome, shiftTat } from './store.js';

/**
 * Limits in this process's memory: exact for one gateway instance, no server needed. Expired entries are
 * swept periodically so memory follows the number of active keys, not every key ever seen.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #tats = new Map<string, number>();
  readonly #leases = new Map<string, Map<string, number>>();
  /** Per key with leases: the latest expiry handed out, and the keys whose leases are not oldest-first. */
  readonly #newestLease = new Map<string, number>();
  readonly #unordered = new Set<string>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { now?: () => number; sweepIntervalMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  async admit(rules: readonly RateLimitRule[]): Promise<AdmitResult> {
    const now = this.#now();
    const outcomes: RuleOutcome[] = [];
    const newTats: Array<number | undefined> = [];
    let rejectedRule: number | undefined;
    let retryAfterMs: number | undefined;
    rules.forEach((rule, index) => {
      if (rule.kind === 'rate') {
        const decision = gcra(this.#tats.get(rule.key), now, rule);
        outcomes.push({ limit: rule.limit, remaining: decision.remaining, resetMs: decision.resetMs });
        newTats.push(decision.newTat);
        if (!decision.allowed && rejectedRule === undefined) {
          rejectedRule = index;
          retryAfterMs = decision.retryAfterMs;
        }
      } else {
        const active = this.#activeLeases(rule.key, now);
        const count = active?.size ?? 0;
        outcomes.push({ limit: rule.limit, remaining: Math.max(0, rule.limit - count - 1), resetMs: 0 });
        newTats.push(undefined);
        if (count >= rule.limit && rejectedRule === undefined) {
          rejectedRule = index;
          retryAfterMs = 1_000;
        }
      }
    });
    if (rejectedRule !== undefined) {
      outcomes[rejectedRule]!.remaining = 0;
      return { allowed: false, outcomes, rejectedRule, retryAfterMs };
    }
    rules.forEach((rule, index) => {
      if (rule.kind === 'rate') this.#tats.set(rule.key, newTats[index]!);
      else {
        let leases = this.#leases.get(rule.key);
        if (!leases) {
          leases = new Map();
          this.#leases.set(rule.key, leases);
        }
        const expiresAt = now + rule.leaseMs;
        // A lease ending before the newest one (another lease length, or the clock stepped back) breaks
        // the oldest-first order that lets admission stop early; such keys are scanned whole.
        // A member leased again keeps its old place in the Map with a later expiry: that breaks it as well.
        const newest = this.#newestLease.get(rule.key);
        if ((newest !== undefined && expiresAt < newest) || leases.has(rule.member)) this.#unordered.add(rule.key);
        else this.#newestLease.set(rule.key, expiresAt);
        leases.set(rule.member, expiresAt);
      }
    });
    return { allowed: true, outcomes };
  }

  async adjust(rule: Pick<RateRule, 'key' | 'limit' | 'periodMs'>, delta: number): Promise<void> {
    const shifted = shiftTat(this.#tats.get(rule.key), this.#now(), rule, delta);
    if (shifted === undefined) this.#tats.delete(rule.key);
    else this.#tats.set(rule.key, shifted);
  }

  async release(key: string, member: string): Promise<void> {
    const leases = this.#leases.get(key);
    if (!leases) return;
    leases.delete(member);
    if (leases.size === 0) this.#forget(key);
  }

  #forget(key: string): void {
    this.#leases.delete(key);
    this.#newestLease.delete(key);
    this.#unordered.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  /**
   * The key's unexpired leases. A Map keeps insertion order and every lease of a key lasts the plugin's
   * `leaseMs`, so the oldest come first: dropping expired ones stops at the first live lease, and an
   * admission costs the same with 1,000 requests in flight on the key as with one. The sweep does a full pass.
   */
  #activeLeases(key: string, now: number): Map<string, number> | undefined {
    const leases = this.#leases.get(key);
    if (!leases) return undefined;
    dropExpired(leases, now, !this.#unordered.has(key));
    return leases;
  }

  #sweepLeases(key: string, now: number): void {
    const leases = this.#leases.get(key);
    if (!leases) return;
    dropExpired(leases, now, false);
    if (leases.size === 0) this.#forget(key);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    for (const key of this.#leases.keys()) this.#sweepLeases(key, now);
  }
}

/** Deletes expired leases; `oldestFirst` stops at the first live one (the rest can only expire later). */
function dropExpired(leases: Map<string, number>, now: number, oldestFirst: boolean): void {
  for (const [member, expiresAt] of leases) {
    if (expiresAt > now) {
      if (oldestFirst) break;
      continue;
    }
    leases.delete(member);
  }
}
