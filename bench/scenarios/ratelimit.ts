/*
 * What the rate limiter adds to each request: the store calls a keyed request makes, timed one after
 * another in a process of their own. Admission (requests per minute + tokens per minute + one concurrency
 * slot, all-or-nothing) runs before the upstream call; settling (token reconciliation + releasing the slot,
 * in parallel) runs once the answer is complete. Both are on the request's path, so their sum is the
 * added latency.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RateLimitStore } from '@switchyard/plugin-ratelimit';
import { isMeasurementChild, runMeasurementChild, serveMeasurement } from '../lib/child-measurement.js';
import { redisAnswersPing } from '../lib/redis-ping.js';
import type { BenchSettings, Scenario, ScenarioReport } from '../lib/scenario.js';
import { formatMs, percentile } from '../lib/stats.js';
import { renderTable } from '../lib/table.js';

const defaultRedisUrl = 'redis://127.0.0.1:6379';
const requests = 5_000;
const warmupRequests = 1_000;

interface StoreFigures {
  store: string;
  admitP50: number;
  admitP99: number;
  settleP50: number;
  settleP99: number;
  totalP50: number;
  totalP99: number;
  /** Requests let through without a check because the store could not be asked: must be 0 for honest figures. */
  unchecked: number;
}

interface MeasureOptions {
  redisUrl: string | undefined;
}

interface MeasureResult {
  figures: StoreFigures[];
}

export const ratelimitScenario: Scenario = {
  name: 'ratelimit',
  summary: 'added latency of the rate limiter per keyed request (rpm + tpm + concurrency): memory store vs Redis store, p50/p99',

  async run(settings: BenchSettings): Promise<ScenarioReport> {
    const redisUrl = process.env.REDIS_URL ?? defaultRedisUrl;
    const redisReachable = await redisAnswersPing(redisUrl);
    if (!redisReachable) settings.log(`Redis at ${redisUrl} does not answer: measuring the memory store only (set REDIS_URL to measure Redis).`);
    settings.log(`timing ${requests} sequential admissions per store…`);
    const result = await runMeasurementChild<MeasureResult>(new URL(import.meta.url), { redisUrl: redisReachable ? redisUrl : undefined } satisfies MeasureOptions, settings.targetCore);
    const rows = result.figures.map((figures) => [
      figures.store,
      formatMs(figures.admitP50),
      formatMs(figures.admitP99),
      formatMs(figures.settleP50),
      formatMs(figures.settleP99),
      formatMs(figures.totalP50),
      formatMs(figures.totalP99),
      String(figures.unchecked),
    ]);
    const sections = [
      {
        title: `Rate-limit store calls per keyed request, ${requests} requests in a row (after ${warmupRequests} unmeasured)`,
        body: renderTable(['store', 'admit p50', 'admit p99', 'settle p50', 'settle p99', 'added p50', 'added p99', 'unchecked'], rows),
      },
    ];
    if (!redisReachable) sections.push({ title: 'Note', body: `Redis at ${redisUrl} did not answer PING: the Redis store was not measured.` });
    return { sections, goals: [] };
  },
};


async function measure(options: MeasureOptions): Promise<MeasureResult> {
  const { MemoryRateLimitStore, RedisRateLimitStore } = await import('@switchyard/plugin-ratelimit');
  const figures: StoreFigures[] = [];
  const memory = new MemoryRateLimitStore();
  figures.push(await measureStore('memory', memory, () => 0));
  await memory.close();
  if (options.redisUrl) {
    // A prefix of its own: the run never touches a gateway's counters on the same Redis.
    const redis = new RedisRateLimitStore({ url: options.redisUrl, keyPrefix: `switchyard:bench:${randomUUID()}:`, failurePolicy: 'open' });
    figures.push(await measureStore('redis', redis, () => redis.failOpenCount));
    await redis.close();
  }
  return { figures };
}

async function measureStore(name: string, store: RateLimitStore, unchecked: () => number): Promise<StoreFigures> {
  const minute = 60_000;
  // Limits far above what the run sends: every request is admitted, as most requests are.
  const scope = '{key:bench-key}';
  const estimate = 120;
  const tokenRule = { kind: 'rate', key: `${scope}:tpm`, limit: 1e12, periodMs: minute, cost: estimate } as const;
  const admit = new Float64Array(requests);
  const settle = new Float64Array(requests);
  for (let index = -warmupRequests; index < requests; index++) {
    const member = randomUUID();
    const startedAt = performance.now();
    const result = await store.admit([
      { kind: 'rate', key: `${scope}:rpm`, limit: 1e9, periodMs: minute, cost: 1 },
      tokenRule,
      { kind: 'concurrency', key: `${scope}:concurrency`, limit: 1e6, leaseMs: 10 * minute, member },
    ]);
    const admittedAt = performance.now();
    if (!result.allowed) throw new Error(`The ${name} store refused a request under limits it cannot reach.`);
    // What the plugin does once the answer is complete: refund the unused estimate and free the slot.
    await Promise.all([store.release(`${scope}:concurrency`, member), store.adjust(tokenRule, 40 - estimate)]);
    const settledAt = performance.now();
    if (index >= 0) {
      admit[index] = admittedAt - startedAt;
      settle[index] = settledAt - admittedAt;
    }
  }
  const total = admit.map((value, index) => value + settle[index]!);
  return {
    store: name,
    admitP50: percentile(admit, 50),
    admitP99: percentile(admit, 99),
    settleP50: percentile(settle, 50),
    settleP99: percentile(settle, 99),
    totalP50: percentile(total, 50),
    totalP99: percentile(total, 99),
    unchecked: unchecked(),
  };
}

if (isMeasurementChild(import.meta.url)) await serveMeasurement(measure);
