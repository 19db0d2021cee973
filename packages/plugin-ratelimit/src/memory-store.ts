import { type AdmitResult, gcra, type RateLimitRule, type RateLimitStore, type RateRule, type RuleOutcome, shiftTat } from './store.js';

/**
 * Limits in this process's memory: exact for one gateway instance, no server needed. Expired entries are
 * swept periodically so memory follows the number of active keys, not every key ever seen.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #tats = new Map<string, number>();
  readonly #leases = new Map<string, Map<string, number>>();
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
        leases.set(rule.member, now + rule.leaseMs);
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
    if (leases.size === 0) this.#leases.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  #activeLeases(key: string, now: number): Map<string, number> | undefined {
    const leases = this.#leases.get(key);
    if (!leases) return undefined;
    for (const [member, expiresAt] of leases) if (expiresAt <= now) leases.delete(member);
    return leases;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    for (const key of this.#leases.keys()) if (this.#activeLeases(key, now)?.size === 0) this.#leases.delete(key);
  }
}
