import { CircuitBreaker, type BreakerOptions } from './circuit-breaker.js';

/** Live figures for one target (provider + model): what the balancing strategies choose by. */
export class TargetHealth {
  readonly breaker: CircuitBreaker;
  inFlight = 0;
  /** Exponentially weighted moving average of time to first byte, in ms; undefined until measured. */
  latencyMs: number | undefined;

  constructor(breakerOptions: BreakerOptions, now?: () => number) {
    this.breaker = new CircuitBreaker(breakerOptions, now);
  }

  recordLatency(milliseconds: number): void {
    // α = 0.2: recent calls dominate within about ten samples, one outlier does not.
    this.latencyMs = this.latencyMs === undefined ? milliseconds : this.latencyMs * 0.8 + milliseconds * 0.2;
  }
}

export class HealthRegistry {
  readonly #targets = new Map<string, TargetHealth>();
  readonly #breakerOptions: BreakerOptions;
  readonly #now: (() => number) | undefined;

  constructor(breakerOptions: BreakerOptions, now?: () => number) {
    this.#breakerOptions = breakerOptions;
    this.#now = now;
  }

  /** Keyed by the gateway-wide model name `provider/model`. */
  get(model: string): TargetHealth {
    let health = this.#targets.get(model);
    if (!health) {
      health = new TargetHealth(this.#breakerOptions, this.#now);
      this.#targets.set(model, health);
    }
    return health;
  }

  entries(): IterableIterator<[string, TargetHealth]> {
    return this.#targets.entries();
  }
}
