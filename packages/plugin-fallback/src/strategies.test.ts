import { describe, expect, it } from 'vitest';
import { classifyFailure } from './classify-failure.js';
import { GatewayError } from '@switchyard/core';
import { parseFallbackConfig } from './config.js';
import { type Candidate, orderCandidates } from './strategies.js';
import { TargetHealth } from './target-health.js';

const breakerOptions = { consecutiveFailures: 1, failureRatio: 1, minimumCalls: 100, windowMs: 60_000, cooldownMs: 60_000 };
const candidate = (model: string, extra: Partial<Candidate> = {}): Candidate => ({ model, weight: 1, health: new TargetHealth(breakerOptions, () => 0), ...extra });

/** A deterministic pseudo-random sequence, so weight tests are repeatable. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('orderCandidates', () => {
  it('weighted: first picks converge on the weights', () => {
    const targets = [candidate('a', { weight: 3 }), candidate('b', { weight: 1 })];
    const random = seededRandom(42);
    let firstA = 0;
    const rounds = 20_000;
    for (let index = 0; index < rounds; index++) if (orderCandidates(targets, 'weighted', random)[0]!.model === 'a') firstA++;
    expect(firstA / rounds).toBeGreaterThan(0.72);
    expect(firstA / rounds).toBeLessThan(0.78);
  });

  it('least-busy picks the target with the fewest requests in flight', () => {
    const busy = candidate('busy');
    busy.health.inFlight = 5;
    const idle = candidate('idle');
    idle.health.inFlight = 1;
    expect(orderCandidates([busy, idle], 'least-busy').map((c) => c.model)).toEqual(['idle', 'busy']);
  });

  it('latency picks the fastest measured target, trying unmeasured ones first', () => {
    const slow = candidate('slow');
    slow.health.recordLatency(900);
    const fast = candidate('fast');
    fast.health.recordLatency(100);
    const unknown = candidate('unknown');
    expect(orderCandidates([slow, fast], 'latency').map((c) => c.model)).toEqual(['fast', 'slow']);
    expect(orderCandidates([slow, fast, unknown], 'latency')[0]!.model).toBe('unknown');
  });

  it('cost picks the cheapest target; unknown prices go last', () => {
    const order = orderCandidates([candidate('pricey', { price: 20 }), candidate('unknown'), candidate('cheap', { price: 0.5 })], 'cost');
    expect(order.map((c) => c.model)).toEqual(['cheap', 'pricey', 'unknown']);
  });

  it('targets with an open breaker go last', () => {
    const broken = candidate('broken');
    broken.health.breaker.recordFailure();
    expect(orderCandidates([broken, candidate('ok')], 'ordered').map((c) => c.model)).toEqual(['ok', 'broken']);
  });
});

describe('classifyFailure', () => {
  const error = (status: number, extra: Partial<ConstructorParameters<typeof GatewayError>[0]> = {}) =>
    new GatewayError({ message: 'x', status, type: 'api_error', provider: 'p', ...extra });
  it('sorts failures into retry, next, context-window, content-policy and fatal', () => {
    expect(classifyFailure(error(429, { isRetryable: true }))).toBe('retry');
    expect(classifyFailure(error(503, { isRetryable: true }))).toBe('retry');
    expect(classifyFailure(error(401))).toBe('next');
    expect(classifyFailure(error(404))).toBe('next');
    expect(classifyFailure(error(400))).toBe('fatal');
    expect(classifyFailure(error(400, { code: 'context_length_exceeded' }))).toBe('context-window');
    expect(classifyFailure(error(400, { message: 'prompt is too long: 250000 tokens > 200000 maximum' }))).toBe('context-window');
    expect(classifyFailure(error(400, { code: 'content_filter' }))).toBe('content-policy');
    expect(classifyFailure(error(499))).toBe('fatal');
  });
});

describe('parseFallbackConfig', () => {
  it('names the path of a bad field', () => {
    expect(() => parseFallbackConfig({ groups: { smart: { targets: [{ model: 'a/b', weight: -1 }] } } })).toThrow(/groups\.smart\.targets\[0\]\.weight/);
    expect(() => parseFallbackConfig({ routes: [{ group: 'missing' }] })).toThrow(/routes\[0\]\.group/);
  });
  it('fills defaults', () => {
    const config = parseFallbackConfig({});
    expect(config.retry.maxAttempts).toBe(4);
    expect(config.contextWindowFallback).toBe(true);
  });
});
