import { GatewayError, type Logger } from '@switchyard/core';
import { Redis, type RedisOptions } from 'ioredis';
import type { AdmitResult, RateLimitRule, RateLimitStore, RateRule, RuleOutcome } from './store.js';

/**
 * Admission for all of a request's rules in one script: one round trip, atomic across every gateway
 * instance. Time comes from the Redis server (`TIME`), so instances with skewed clocks still agree.
 * Rates use GCRA (see store.ts), concurrency a sorted set of leases scored by expiry.
 *
 * ARGV per rule, four values: kind ('r' rate | 'c' concurrency), limit, period or lease in ms, cost or member.
 * Returns: rejected rule (1-based, 0 when admitted), retry-after ms (-1: waiting cannot help), then
 * remaining and reset ms for each rule.
 */
const admitScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local count = #KEYS
local remaining = {}
local resets = {}
local newTats = {}
local rejected = 0
local retryAfter = 0
for i = 1, count do
  local base = (i - 1) * 4
  local kind = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local window = tonumber(ARGV[base + 3])
  if kind == 'r' then
    local cost = tonumber(ARGV[base + 4])
    local interval = window / limit
    local tat = tonumber(redis.call('GET', KEYS[i])) or now
    if tat < now then tat = now end
    local newTat = tat + cost * interval
    local allowAt = newTat - window
    if allowAt > now then
      if rejected == 0 then
        rejected = i
        if cost > limit then retryAfter = -1 else retryAfter = math.ceil(allowAt - now) end
      end
      remaining[i] = math.max(0, math.floor((now + window - tat) / interval))
      resets[i] = math.ceil(tat - now)
    else
      newTats[i] = newTat
      remaining[i] = math.max(0, math.floor((now + window - newTat) / interval))
      resets[i] = math.ceil(newTat - now)
    end
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local active = redis.call('ZCARD', KEYS[i])
    if active >= limit then
      if rejected == 0 then
        rejected = i
        retryAfter = 1000
      end
      remaining[i] = 0
    else
      remaining[i] = limit - active - 1
    end
    resets[i] = 0
  end
end
if rejected == 0 then
  for i = 1, count do
    local base = (i - 1) * 4
    if ARGV[base + 1] == 'r' then
      redis.call('SET', KEYS[i], string.format('%.3f', newTats[i]), 'PX', math.ceil(newTats[i] - now) + 1000)
    else
      local lease = tonumber(ARGV[base + 3])
      redis.call('ZADD', KEYS[i], now + lease, ARGV[base + 4])
      redis.call('PEXPIRE', KEYS[i], lease + 1000)
    end
  end
else
  remaining[rejected] = 0
end
local result = { rejected, retryAfter }
for i = 1, count do
  result[#result + 1] = remaining[i]
  result[#result + 1] = resets[i]
end
return result
`;

/** Charges or refunds units on one rate after the fact (token reconciliation). ARGV: limit, period ms, delta. */
const adjustScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[2]) / tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local shifted = tat + tonumber(ARGV[3]) * interval
if shifted <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.3f', shifted), 'PX', math.ceil(shifted - now) + 1000)
return 1
`;

export type FailurePolicy = 'open' | 'closed';

export interface RedisRateLimitStoreOptions {
  /** `redis://host:port/db`; or pass `client`. */
  url?: string;
  client?: Redis;
  /** Prepended to every key. Default `switchyard:rl:`. */
  keyPrefix?: string;
  /**
   * When Redis cannot be reached: `open` lets requests through (logged once per outage, counted in
   * `failOpenCount`), `closed` refuses them with 503. Default `open`.
   */
  failurePolicy?: FailurePolicy;
  /** Longest wait for Redis on the request path. Default 250 ms. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

type AdmitCommand = (numberOfKeys: number, ...keysAndArguments: Array<string | number>) => Promise<number[]>;
type AdjustCommand = (key: string, limit: number, periodMs: number, delta: number) => Promise<number>;

/**
 * Limits shared by every gateway instance through Redis. Keys carry a hash tag per limited identity
 * (`{key:abc}`), so all of one request's keys sit in one Redis Cluster slot and one script can touch them.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #prefix: string;
  readonly #policy: FailurePolicy;
  /** Where outages and recoveries are reported. */
  logger: Logger | undefined;
  readonly #commandTimeoutMs: number;
  #inOutage = false;
  /** Requests let through without a check because Redis was unreachable (policy `open`). */
  failOpenCount = 0;
  /** Requests refused because Redis was unreachable (policy `closed`). */
  failClosedCount = 0;

  constructor(options: RedisRateLimitStoreOptions) {
    const clientOptions: RedisOptions = {
      // Fail fast instead of queueing while disconnected: the policy decides, the request never hangs.
      enableOfflineQueue: false,
      // Commands issued in the same event-loop turn (admissions and settlements of concurrent requests)
      // leave in one write and come back in one read: a syscall each way costs more than the command.
      // Measured with 64 connections through the full stack: 9–10 % less gateway CPU per request, 5–8 %
      // more requests per second.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      // Keep trying to reconnect for as long as the gateway runs; the policy covers the gap.
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    };
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else if (options.url) {
      this.#client = new Redis(options.url, clientOptions);
      this.#ownsClient = true;
    } else {
      throw new TypeError('RedisRateLimitStore needs a url or a client.');
    }
    // Connection errors surface through the policy on each call; the client's own error events would
    // otherwise crash the process as unhandled.
    this.#client.on('error', () => {});
    this.#client.defineCommand('switchyardAdmit', { lua: admitScript });
    this.#client.defineCommand('switchyardAdjust', { lua: adjustScript, numberOfKeys: 1 });
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 250;
    this.#prefix = options.keyPrefix ?? 'switchyard:rl:';
    this.#policy = options.failurePolicy ?? 'open';
    this.logger = options.logger;
  }

  get client(): Redis {
    return this.#client;
  }

  async admit(rules: readonly RateLimitRule[]): Promise<AdmitResult> {
    const keys = rules.map((rule) => this.#prefix + rule.key);
    const argumentsList: Array<string | number> = [];
    for (const rule of rules) {
      if (rule.kind === 'rate') argumentsList.push('r', rule.limit, rule.periodMs, rule.cost);
      else argumentsList.push('c', rule.limit, rule.leaseMs, rule.member);
    }
    let reply: number[];
    try {
      await this.#connected();
      reply = await (this.#client as unknown as { switchyardAdmit: AdmitCommand }).switchyardAdmit(keys.length, ...keys, ...argumentsList);
      this.#recovered();
    } catch (error) {
      return this.#unavailable(error);
    }
    const rejected = Number(reply[0]);
    const retryAfter = Number(reply[1]);
    const outcomes: RuleOutcome[] = rules.map((rule, index) => ({ limit: rule.limit, remaining: Number(reply[2 + index * 2]), resetMs: Number(reply[3 + index * 2]) }));
    if (rejected === 0) return { allowed: true, outcomes };
    return { allowed: false, outcomes, rejectedRule: rejected - 1, retryAfterMs: retryAfter < 0 ? undefined : retryAfter };
  }

  async adjust(rule: Pick<RateRule, 'key' | 'limit' | 'periodMs'>, delta: number): Promise<void> {
    if (delta === 0) return;
    try {
      await (this.#client as unknown as { switchyardAdjust: AdjustCommand }).switchyardAdjust(this.#prefix + rule.key, rule.limit, rule.periodMs, delta);
      this.#recovered();
    } catch (error) {
      // Reconciliation is best effort: a lost adjustment only shifts one limit by one request's error.
      this.#noteOutage(error);
    }
  }

  async release(key: string, member: string): Promise<void> {
    try {
      await this.#client.zrem(this.#prefix + key, member);
      this.#recovered();
    } catch (error) {
      // The lease expires by itself; an unreleased slot frees up when it does.
      this.#noteOutage(error);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.disconnect();
  }

  /**
   * Commands are not queued while disconnected (so nothing waits unboundedly); a client still making its
   * first connection, or reconnecting, gets the command timeout to become ready.
   */
  async #connected(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return;
    if (client.status === 'end' || client.status === 'close') throw new Error(`Redis connection is ${client.status}.`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(new Error('Redis is not reachable.'));
      }, this.#commandTimeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
    });
  }

  #unavailable(error: unknown): AdmitResult {
    this.#noteOutage(error);
    if (this.#policy === 'closed') {
      this.failClosedCount += 1;
      throw new GatewayError({
        message: 'Rate limits cannot be checked right now; the request was refused. Try again shortly.',
        status: 503,
        type: 'service_unavailable',
        code: 'rate_limiter_unavailable',
        isRetryable: true,
        retryAfterMs: 1_000,
        cause: error,
      });
    }
    this.failOpenCount += 1;
    return { allowed: true, outcomes: [] };
  }

  #noteOutage(error: unknown): void {
    if (this.#inOutage) return;
    this.#inOutage = true;
    this.logger?.error({ err: error, policy: this.#policy }, `rate-limit store unreachable: failing ${this.#policy} until it recovers`);
  }

  #recovered(): void {
    if (!this.#inOutage) return;
    this.#inOutage = false;
    this.logger?.info({ failOpenCount: this.failOpenCount, failClosedCount: this.failClosedCount }, 'rate-limit store reachable again');
  }
}
