export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  consecutiveFailures: number;
  failureRatio: number;
  minimumCalls: number;
  windowMs: number;
  cooldownMs: number;
}

/**
 * A circuit breaker for one target. Closed: calls flow and outcomes are counted. Open: calls are refused
 * until the cool-down passes. Half-open: exactly one probe goes through; its success closes the breaker,
 * its failure opens it again for another cool-down.
 *
 * The failure ratio is counted in a fixed window that restarts every `windowMs`: cheap, and precise
 * enough to tell a healthy target from a failing one.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #consecutiveFailures = 0;
  #windowStart = 0;
  #windowCalls = 0;
  #windowFailures = 0;
  #openedAt = 0;
  #probeInFlight = false;
  readonly #options: BreakerOptions;
  readonly #now: () => number;

  constructor(options: BreakerOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#options.cooldownMs) return 'half-open';
    return this.#state;
  }

  /** Whether a call may go through now. In half-open, the first caller takes the single probe. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.#probeInFlight) return false;
    this.#state = 'half-open';
    this.#probeInFlight = true;
    return true;
  }

  /** Whether a call could go through now, without taking the probe. */
  isAvailable(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half-open' && !this.#probeInFlight);
  }

  recordSuccess(): void {
    this.#count(false);
    this.#consecutiveFailures = 0;
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#probeInFlight = false;
      this.#windowCalls = 0;
      this.#windowFailures = 0;
    }
  }

  recordFailure(): void {
    this.#count(true);
    this.#consecutiveFailures += 1;
    if (this.#state === 'half-open') {
      this.#open();
      return;
    }
    const options = this.#options;
    const ratioTripped = this.#windowCalls >= options.minimumCalls && this.#windowFailures / this.#windowCalls >= options.failureRatio;
    if (this.#consecutiveFailures >= options.consecutiveFailures || ratioTripped) this.#open();
  }

  /** A call that ended without telling anything about health (cancelled by the client). */
  release(): void {
    if (this.#state === 'half-open') this.#probeInFlight = false;
  }

  #open(): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#probeInFlight = false;
  }

  #count(failed: boolean): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#options.windowMs) {
      this.#windowStart = now;
      this.#windowCalls = 0;
      this.#windowFailures = 0;
    }
    this.#windowCalls += 1;
    if (failed) this.#windowFailures += 1;
  }
}
