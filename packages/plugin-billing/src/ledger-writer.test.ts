import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerWriter } from './ledger-writer.js';
import type { LedgerRow } from './store/billing-store.js';

const row = (id: string) => ({ id, request_id: id, cost_usd: '0.001' }) as LedgerRow;

/** A database stand-in that can be taken down, and that skips rows it already has, as the store does. */
function fakeDatabase() {
  const stored = new Map<string, LedgerRow>();
  const batches: number[] = [];
  let down = false;
  return {
    stored,
    batches,
    setDown(value: boolean) {
      down = value;
    },
    async write(rows: readonly LedgerRow[]) {
      if (down) throw new Error('connection refused');
      batches.push(rows.length);
      let inserted = 0;
      for (const entry of rows) {
        if (stored.has(entry.id)) continue;
        stored.set(entry.id, entry);
        inserted += 1;
      }
      return inserted;
    },
  };
}

describe('LedgerWriter', () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  it('writes in batches of at most batchSize, in order', async () => {
    const database = fakeDatabase();
    const writer = new LedgerWriter({ write: database.write, logger: silentLogger, batchSize: 4, flushIntervalMs: 5 });
    for (let index = 0; index < 10; index++) writer.append(row(`r${index}`));
    await writer.flush();
    expect([...database.stored.keys()]).toEqual(Array.from({ length: 10 }, (_, index) => `r${index}`));
    expect(Math.max(...database.batches)).toBeLessThanOrEqual(4);
    expect(writer.pending).toBe(0);
    expect(writer.written).toBe(10);
  });

  it('keeps rows through an outage and writes them all once the database is back', async () => {
    const database = fakeDatabase();
    const writer = new LedgerWriter({ write: database.write, logger: silentLogger, batchSize: 3, flushIntervalMs: 1, retryDelayMs: 1, maxRetryDelayMs: 5 });
    database.setDown(true);
    for (let index = 0; index < 7; index++) writer.append(row(`o${index}`));
    await expect(writer.flush()).rejects.toThrow('connection refused');
    expect(writer.failing).toBe(true);
    expect(writer.pending).toBe(7);
    writer.append(row('o7'));
    database.setDown(false);
    // The writer retries on its own.
    for (let wait = 0; writer.pending > 0 && wait < 500; wait++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(writer.pending).toBe(0);
    expect(writer.failing).toBe(false);
    expect(database.stored.size).toBe(8);
  });

  it('saves rows it cannot write by shutdown to a file, and writes them at the next start', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-ledger-'));
    directories.push(directory);
    const database = fakeDatabase();
    database.setDown(true);
    const first = new LedgerWriter({ write: database.write, logger: silentLogger, retryDelayMs: 1, maxRetryDelayMs: 2, spillDirectory: directory });
    for (let index = 0; index < 5; index++) first.append(row(`s${index}`));
    await first.close(20);
    expect(readdirSync(directory).filter((name) => name.endsWith('.jsonl'))).toHaveLength(1);
    expect(database.stored.size).toBe(0);

    // Still down at the next start: the rows are queued and the file is kept.
    const second = new LedgerWriter({ write: database.write, logger: silentLogger, retryDelayMs: 1, spillDirectory: directory });
    expect(await second.replaySpilled()).toBe(5);
    expect(second.pending).toBe(5);
    expect(readdirSync(directory)).toHaveLength(1);
    await second.close(5);

    database.setDown(false);
    const third = new LedgerWriter({ write: database.write, logger: silentLogger, spillDirectory: directory });
    // Two files now hold the same rows; replaying both writes each row once.
    expect(readdirSync(directory)).toHaveLength(2);
    await third.replaySpilled();
    expect(readdirSync(directory)).toHaveLength(0);
    expect([...database.stored.keys()].sort()).toEqual(['s0', 's1', 's2', 's3', 's4']);
    await third.close();
  });

  it('holds at most maxPendingRows in memory through an outage, moving the rest to files it writes back afterwards', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-ledger-'));
    directories.push(directory);
    const database = fakeDatabase();
    database.setDown(true);
    const writer = new LedgerWriter({ write: database.write, logger: silentLogger, batchSize: 5, flushIntervalMs: 1, retryDelayMs: 1, maxRetryDelayMs: 2, maxPendingRows: 20, spillDirectory: directory });
    let mostPending = 0;
    for (let index = 0; index < 100; index++) {
      writer.append(row(`c${index}`));
      mostPending = Math.max(mostPending, writer.pending);
    }
    expect(mostPending).toBe(20);
    expect(writer.pending + writer.spilled).toBe(100);
    expect(readdirSync(directory).length).toBeGreaterThan(0);

    database.setDown(false);
    await writer.flush();
    expect(writer.pending + writer.spilled).toBe(0);
    expect(readdirSync(directory)).toHaveLength(0);
    expect([...database.stored.keys()].sort()).toEqual(Array.from({ length: 100 }, (_, index) => `c${index}`).sort());
    await writer.close();
  });

  it('stays under maxPendingRows while it reads spilled rows back and requests keep arriving', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-ledger-'));
    directories.push(directory);
    const database = fakeDatabase();
    database.setDown(true);
    const writer = new LedgerWriter({ write: database.write, logger: silentLogger, batchSize: 5, flushIntervalMs: 1, retryDelayMs: 1, maxRetryDelayMs: 2, maxPendingRows: 20, spillDirectory: directory });
    for (let index = 0; index < 100; index++) writer.append(row(`d${index}`));
    database.setDown(false);
    // Rows keep coming, one a turn of the event loop, while the writer catches up on its own timer; the
    // buffer is read every turn, so a moment over the cap between two awaits would be seen.
    let mostPending = 0;
    let appended = 100;
    while (appended < 400) {
      writer.append(row(`d${appended++}`));
      mostPending = Math.max(mostPending, writer.pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    let flushed = false;
    const flush = writer.flush().finally(() => (flushed = true));
    while (!flushed) {
      mostPending = Math.max(mostPending, writer.pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await flush;
    expect(mostPending).toBeLessThanOrEqual(20);
    expect(writer.pending + writer.spilled).toBe(0);
    expect(database.stored.size).toBe(appended);
    await writer.close();
  });

  it('logs rows past maxPendingRows when there is no spill directory, instead of holding them', () => {
    const logged: unknown[] = [];
    const logger = { ...silentLogger, error: (fields: unknown) => void logged.push(fields) } as typeof silentLogger;
    const writer = new LedgerWriter({ write: () => new Promise(() => {}), logger, batchSize: 5, maxPendingRows: 20 });
    for (let index = 0; index < 21; index++) writer.append(row(`l${index}`));
    expect(writer.pending).toBe(5);
    expect((logged[0] as { rows: LedgerRow[] }).rows.map((entry) => entry.id)).toEqual(Array.from({ length: 16 }, (_, index) => `l${index + 5}`));
  });
});
