import { describe, expect, it } from 'vitest';
import { clusterErrors, clusterWarnings } from './cluster.js';
import { type GatewayConfigInput, parseGatewayConfig } from './config-schema.js';

const config = (input: GatewayConfigInput) => parseGatewayConfig(input);

describe('cluster checks', () => {
  it('say nothing for one worker', () => {
    const memoryEverything = config({ rateLimit: { defaults: { rpm: 10 } }, billing: { dataDir: 'memory://' } });
    expect(clusterWarnings(memoryEverything, 1)).toEqual([]);
    expect(clusterErrors(memoryEverything, 1)).toEqual([]);
  });

  it('warn about each store kept in memory by several workers', () => {
    const warnings = clusterWarnings(config({ rateLimit: { defaults: { rpm: 10 } } }), 4);
    expect(warnings).toEqual([
      expect.stringMatching(/^cluster mode \(4 workers\): rate limits are counted in memory, so each worker enforces them separately \(up to 4× the limit in total\)/),
      expect.stringMatching(/^cluster mode \(4 workers\): the response cache is in memory/),
    ]);
  });

  it('are quiet when the stores are on Redis, the cache is off, or nothing is limited', () => {
    const redis = 'redis://127.0.0.1:6379';
    expect(clusterWarnings(config({ rateLimit: { defaults: { rpm: 10 }, redisUrl: redis }, cache: { store: 'redis', redisUrl: redis } }), 2)).toEqual([]);
    expect(clusterWarnings(config({ cache: { store: 'off' } }), 2)).toEqual([]);
  });

  it('refuse billing on the embedded store, on disk or in memory, and accept PostgreSQL', () => {
    expect(clusterErrors(config({ billing: { masterKey: 'sk-m' } }), 2)).toEqual([expect.stringContaining('the embedded store (.data/switchyard) belongs to one process')]);
    expect(clusterErrors(config({ billing: { dataDir: 'memory://' } }), 2)).toEqual([expect.stringContaining('the embedded store (memory://)')]);
    expect(clusterErrors(config({ billing: { masterKey: 'sk-m', databaseUrl: 'postgres://db/switchyard' } }), 2)).toEqual([]);
  });
});
