/**
 * A rate-limit store decides admission for a set of rules at once: either every rule admits the request
 * and all are charged, or none is. All-or-nothing matters: a request refused by its tokens-per-minute
 * limit must not have used up one of its requests-per-minute.
 */

/** A rate: `limit` units per `periodMs` (requests or tokens), enforced with GCRA. */
export interface RateRule {
  kind: 'rate';
  key: string;
  limit: number;
  periodMs: number;
  /** Units this request takes: 1 for requests, the token estimate for tokens. */
  cost: number;
}

/** At most `limit` requests at once; each holds a lease that expires if its gateway dies without releasing. */
export interface ConcurrencyRule {
  kind: 'concurrency';
  key: string;
  limit: number;
  leaseMs: number;
  /** Unique per request: identifies the slot to release. */
  member: string;
}

export type RateLimitRule = RateRule | ConcurrencyRule;

export interface RuleOutcome {
  limit: number;
  /** Units left after this request (before it, when refused). */
  remaining: number;
  /** Milliseconds until the rule is back to full capacity. */
  resetMs: number;
}

export interface AdmitResult {
  allowed: boolean;
  /** One per rule, in the order given. Empty when the store could not be asked and the policy let it through. */
  outcomes: RuleOutcome[];
  /** The rule that refused, when refused. */
  rejectedRule?: number;
  /** When to try again; undefined when waiting cannot help (the request alone exceeds the limit). */
  retryAfterMs?: number;
}

export interface RateLimitStore {
  admit(rules: readonly RateLimitRule[]): Promise<AdmitResult>;
  /** Charges (positive) or refunds (negative) units on a rate rule after the fact: token reconciliation. */
  adjust(rule: Pick<RateRule, 'key' | 'limit' | 'periodMs'>, delta: number): Promise<void>;
  /** Frees a concurrency slot. */
  release(key: string, member: string): Promise<void>;
  close(): Promise<void>;
}

/*
 * GCRA (generic cell rate algorithm), the algorithm both stores use for rates. Each limit keeps one number,
 * the theoretical arrival time (TAT): when the limit would be back to full capacity. A request of cost n
 * pushes the TAT n × (period / limit) further; it fits when the new TAT is at most one period ahead of now.
 * Why GCRA: exact (no window-boundary bursts of 2× the limit, unlike fixed windows), one value per limit
 * (unlike a sliding log), O(1), and charges or refunds after the fact are a simple shift of the TAT — which is
 * what token reconciliation needs.
 */
export interface GcraDecision {
  allowed: boolean;
  newTat: number;
  remaining: number;
  resetMs: number;
  retryAfterMs: number | undefined;
}

export function gcra(storedTat: number | undefined, now: number, rule: RateRule): GcraDecision {
  const interval = rule.periodMs / rule.limit;
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const newTat = tat + rule.cost * interval;
  const allowAt = newTat - rule.periodMs;
  if (allowAt > now) {
    return {
      allowed: false,
      newTat: tat,
      remaining: Math.max(0, Math.floor((now + rule.periodMs - tat) / interval)),
      resetMs: Math.ceil(tat - now),
      retryAfterMs: rule.cost > rule.limit ? undefined : Math.ceil(allowAt - now),
    };
  }
  return {
    allowed: true,
    newTat,
    remaining: Math.max(0, Math.floor((now + rule.periodMs - newTat) / interval)),
    resetMs: Math.ceil(newTat - now),
    retryAfterMs: undefined,
  };
}

/** The TAT after charging or refunding `delta` units; undefined when the limit is back to full capacity. */
export function shiftTat(storedTat: number | undefined, now: number, rule: Pick<RateRule, 'limit' | 'periodMs'>, delta: number): number | undefined {
  const tat = storedTat === undefined || storedTat < now ? now : storedTat;
  const shifted = tat + delta * (rule.periodMs / rule.limit);
  return shifted <= now ? undefined : shifted;
}
