import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.js';

const options = { consecutiveFailures: 3, failureRatio: 0.5, minimumCalls: 10, windowMs: 60_000, cooldownMs: 1_000 };

describe('CircuitBreaker', () => {
  it('opens after consecutive failures, lets one probe through after the cool-down, and closes on its success', () => {
    let time = 0;
    const breaker = new CircuitBreaker(options, () => time);
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.state).toBe('closed');
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    time = 999;
    expect(breaker.tryAcquire()).toBe(false);
    time = 1_000;
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(true);
    // Only one probe at a time.
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.isAvailable()).toBe(false);
    breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('reopens for another cool-down when the probe fails', () => {
    let time = 0;
    const breaker = new CircuitBreaker(options, () => time);
    for (let index = 0; index < 3; index++) breaker.recordFailure();
    time = 1_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
    time = 1_500;
    expect(breaker.tryAcquire()).toBe(false);
    time = 2_000;
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('opens on the failure ratio once enough calls were seen, not before', () => {
    const breaker = new CircuitBreaker({ ...options, consecutiveFailures: 100 }, () => 0);
    for (let index = 0; index < 4; index++) {
      breaker.recordSuccess();
      breaker.recordFailure();
    }
    expect(breaker.state).toBe('closed');
    breaker.recordSuccess();
    breaker.recordFailure();
    expect(breaker.state).toBe('open');
  });

  it('a released probe (client cancelled) frees the half-open slot', () => {
    let time = 0;
    const breaker = new CircuitBreaker(options, () => time);
    for (let index = 0; index < 3; index++) breaker.recordFailure();
    time = 5_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    expect(breaker.tryAcquire()).toBe(true);
  });
});
