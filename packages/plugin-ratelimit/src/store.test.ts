import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryRateLimitStore } from './memory-store.js';
import { RedisRateLimitStore } from './redis-store.js';
import { gcra, type RateLimitStore, type RateRule } from './store.js';

describe('gcra', () => {
  const rule: RateRule = { kind: 'rate', key: 'k', limit: 60, periodMs: 60_000, cost: 1 };
  it('admits a full burst of `limit` and then one more per interval', () => {
    let tat: number | undefined;
    let admitted = 0;
    for (let index = 0; index < 100; index++) {
      const decision = gcra(tat, 0, rule);
      if (decision.allowed) {
        admitted++;
        tat = decision.newTat;
      }
    }
    expect(admitted).toBe(60);
    const refused = gcra(tat, 0, rule);
    expect(refused.retryAfterMs).toBe(1_000);
    expect(gcra(tat, 1_000, rule).allowed).toBe(true);
  });
  it('says waiting cannot help when one request costs more than the limit', () => {
    expect(gcra(undefined, 0, { ...rule, cost: 61 }).retryAfterMs).toBeUndefined();
  });
});

function storeContract(name: string, create: () => RateLimitStore, enabled = true) {
  describe.runIf(enabled)(`${name} store`, () => {
    const store = enabled ? create() : (undefined as unknown as RateLimitStore);
    afterAll(() => store?.close());
    const key = () => `test:${randomUUID()}`;

    it('admits exactly the limit', async () => {
      const rule: RateRule = { kind: 'rate', key: key(), limit: 30, periodMs: 60_000, cost: 1 };
      const results = await Promise.all(Array.from({ length: 60 }, () => store.admit([rule])));
      expect(results.filter((result) => result.allowed)).toHaveLength(30);
      const refused = results.find((result) => !result.allowed)!;
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.outcomes[0]!.remaining).toBe(0);
    });

    it('charges all rules or none', async () => {
      const requests: RateRule = { kind: 'rate', key: key(), limit: 10, periodMs: 60_000, cost: 1 };
      const tokens: RateRule = { kind: 'rate', key: key(), limit: 100, periodMs: 60_000, cost: 80 };
      expect((await store.admit([requests, tokens])).allowed).toBe(true);
      const refused = await store.admit([requests, tokens]);
      expect(refused.allowed).toBe(false);
      expect(refused.rejectedRule).toBe(1);
      // The refused request did not use up a request: 9 remain after the first.
      const next = await store.admit([requests]);
      expect(next.outcomes[0]!.remaining).toBe(8);
    });

    it('reconciles tokens: a refund makes room, a charge takes it', async () => {
      const tokens: RateRule = { kind: 'rate', key: key(), limit: 1_000, periodMs: 60_000, cost: 900 };
      expect((await store.admit([tokens])).allowed).toBe(true);
      expect((await store.admit([{ ...tokens, cost: 500 }])).allowed).toBe(false);
      await store.adjust(tokens, -800);
      expect((await store.admit([{ ...tokens, cost: 500 }])).allowed).toBe(true);
      await store.adjust(tokens, 400);
      expect((await store.admit([{ ...tokens, cost: 100 }])).allowed).toBe(false);
    });

    it('holds concurrency slots until released', async () => {
      const slotKey = key();
      const rule = (member: string) => ({ kind: 'concurrency' as const, key: slotKey, limit: 2, leaseMs: 60_000, member });
      expect((await store.admit([rule('a')])).allowed).toBe(true);
      expect((await store.admit([rule('b')])).allowed).toBe(true);
      expect((await store.admit([rule('c')])).allowed).toBe(false);
      await store.release(slotKey, 'a');
      expect((await store.admit([rule('c')])).allowed).toBe(true);
    });

    it('frees a slot whose lease expired (a gateway that died holding it)', async () => {
      const slotKey = key();
      expect((await store.admit([{ kind: 'concurrency', key: slotKey, limit: 1, leaseMs: 50, member: 'gone' }])).allowed).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect((await store.admit([{ kind: 'concurrency', key: slotKey, limit: 1, leaseMs: 50, member: 'new' }])).allowed).toBe(true);
    });

    it('frees an expired short lease granted after a longer one that is still held', async () => {
      const slotKey = key();
      const lease = (member: string, leaseMs: number) => ({ kind: 'concurrency' as const, key: slotKey, limit: 2, leaseMs, member });
      expect((await store.admit([lease('long', 60_000)])).allowed).toBe(true);
      expect((await store.admit([lease('short', 50)])).allowed).toBe(true);
      expect((await store.admit([lease('third', 60_000)])).allowed).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect((await store.admit([lease('third', 60_000)])).allowed).toBe(true);
    });
  });
}

describe('memory store leases', () => {
  it('frees an expired lease that sits behind a member leased again', async () => {
    let clock = 0;
    const store = new MemoryRateLimitStore({ now: () => clock });
    const lease = (member: string) => ({ kind: 'concurrency' as const, key: 'slots', limit: 3, leaseMs: 200, member });
    expect((await store.admit([lease('x')])).allowed).toBe(true);
    expect((await store.admit([lease('y')])).allowed).toBe(true);
    clock = 100;
    // 'x' again: it keeps its first place in the store with an expiry after 'y's.
    expect((await store.admit([lease('x')])).allowed).toBe(true);
    clock = 250;
    // 'y' has expired, 'x' holds until 300: two more fit.
    expect((await store.admit([lease('z')])).allowed).toBe(true);
    expect((await store.admit([lease('w')])).allowed).toBe(true);
    expect((await store.admit([lease('v')])).allowed).toBe(false);
    await store.close();
  });
});

storeContract('memory', () => new MemoryRateLimitStore());
storeContract('redis', () => new RedisRateLimitStore({ url: process.env.REDIS_URL!, keyPrefix: `switchyard-test:${randomUUID()}:` }), Boolean(process.env.REDIS_URL));
