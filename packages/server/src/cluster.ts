import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@switchyard/core';
import { billingStoreOf, rateLimitOptions, rateLimitStoreOf } from './plugin-options.js';
import type { GatewayConfig } from './config-schema.js';

/** The IPC message the cluster primary sends its workers to drain and exit. */
export const shutdownMessage = { type: 'switchyard:shutdown' } as const;

/**
 * Problems that make a configuration unusable with several workers. The embedded billing store is a
 * database inside one process: a second worker cannot open its directory, and with `memory://` every
 * worker would hold different keys.
 */
export function clusterErrors(config: GatewayConfig, workers: number): string[] {
  if (workers <= 1) return [];
  const billing = billingStoreOf(config.billing);
  if (billing && billing.kind !== 'postgres') {
    return [
      `cluster mode (${workers} workers) needs billing on PostgreSQL: the embedded store (${billing.dataDir}) belongs to one process. Set DATABASE_URL (billing.databaseUrl), or run one worker.`,
    ];
  }
  return [];
}

/** What each worker keeps to itself unless it is on Redis: said once at startup so nobody is surprised. */
export function clusterWarnings(config: GatewayConfig, workers: number): string[] {
  if (workers <= 1) return [];
  const warnings: string[] = [];
  if (rateLimitOptions(config) && rateLimitStoreOf(config) === 'memory') {
    warnings.push(
      `cluster mode (${workers} workers): rate limits are counted in memory, so each worker enforces them separately (up to ${workers}× the limit in total); set REDIS_URL (or rateLimit.store: redis) to share them`,
    );
  }
  if (config.cache.store === 'memory') {
    warnings.push(
      `cluster mode (${workers} workers): the response cache is in memory, so each worker caches separately; set SWITCHYARD_CACHE=redis with REDIS_URL (or cache.store: redis) to share it`,
    );
  }
  return warnings;
}

export interface ClusterOptions {
  workers: number;
  logger: Logger;
  /** Workers get this long to drain after a shutdown starts before they are killed. */
  drainTimeoutMs: number;
  /** First restart delay after a worker dies; it doubles with each quick death. Default 1 s. */
  restartDelayMs?: number;
  /** Longest restart delay. Default 30 s. */
  maxRestartDelayMs?: number;
  /** A worker that ran this long is considered healthy again: its slot's delay starts over. Default 60 s. */
  stableAfterMs?: number;
  /** Time on top of the drain deadline before stuck workers are killed. Default 15 s. */
  graceMs?: number;
  exit?: (code: number) => void;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  /** Consecutive quick deaths, for the backoff. */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * The primary process of cluster mode: forks one worker per slot, each running the whole gateway on the
 * same port (node:cluster shares the listening socket), restarts a worker that dies with exponential
 * backoff, and on SIGTERM or SIGINT asks every worker to drain and exits once they have.
 *
 * Workers re-run this program with the same arguments; `cluster.isWorker` tells them to serve.
 */
export function runClusterPrimary(options: ClusterOptions): { shutdown(reason: string): void } {
  const { logger, workers } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const restartDelayMs = options.restartDelayMs ?? 1_000;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 30_000;
  const stableAfterMs = options.stableAfterMs ?? 60_000;
  const slots: Slot[] = Array.from({ length: workers }, (_, index) => ({ index, worker: undefined, startedAt: 0, failures: 0, restartTimer: undefined }));
  const slotOf = new Map<Worker, Slot>();
  const listening = new Set<Worker>();
  let everyoneReady = false;
  let stopping = false;
  let failed = false;

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    const worker = cluster.fork({ SWITCHYARD_WORKER_SLOT: String(slot.index + 1) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slotOf.set(worker, slot);
  };

  const finishIfDone = () => {
    if (slots.every((slot) => slot.worker === undefined)) {
      logger.info('every worker has exited');
      exit(failed ? 1 : 0);
    }
  };

  const shutdown = (reason: string, failure = false) => {
    failed ||= failure;
    if (stopping) return;
    stopping = true;
    const alive = slots.filter((slot) => slot.worker).length;
    logger.info({ reason }, `shutting down the cluster (${reason}): asking ${alive} worker${alive === 1 ? '' : 's'} to drain`);
    for (const slot of slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      const worker = slot.worker;
      if (worker?.isConnected()) worker.send(shutdownMessage);
      else if (worker) worker.process.kill('SIGTERM');
    }
    const force = setTimeout(() => {
      logger.error('workers did not drain in time: killing them');
      failed = true;
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
    }, options.drainTimeoutMs + (options.graceMs ?? 15_000));
    force.unref();
    finishIfDone();
  };

  cluster.on('listening', (worker, address) => {
    listening.add(worker);
    if (!everyoneReady && listening.size === workers) {
      everyoneReady = true;
      const host = address.addressType === 6 ? `[${address.address}]` : address.address;
      logger.info({ workers, url: `http://${host}:${address.port}` }, `Switchyard cluster ready: ${workers} workers on http://${host}:${address.port}/v1`);
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker);
    slotOf.delete(worker);
    const wasListening = listening.delete(worker);
    if (!slot) return;
    slot.worker = undefined;
    if (stopping) {
      if (code !== 0) failed = true;
      finishIfDone();
      return;
    }
    if (!wasListening && !everyoneReady) {
      // A worker that cannot even start (port taken, database refusing) would fail the same way again.
      logger.error({ worker: worker.id, code, signal }, 'a worker exited before it was ready: stopping the cluster');
      shutdown('a worker failed to start', true);
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived > stableAfterMs ? 0 : slot.failures + 1;
    const delay = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** Math.max(0, slot.failures - 1));
    logger.error({ worker: worker.id, code, signal, restartInMs: delay }, `worker ${worker.id} exited unexpectedly (${signal ?? `code ${code}`}): restarting it in ${delay} ms`);
    slot.restartTimer = setTimeout(() => fork(slot), delay);
  });

  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: killing the workers without waiting');
        for (const slot of slots) slot.worker?.process.kill('SIGKILL');
        exit(1);
        return;
      }
      signalled = true;
      shutdown(signal);
    });
  }

  for (const slot of slots) fork(slot);
  return { shutdown: (reason: string) => shutdown(reason) };
}
