import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@switchyard/core';
import type { LedgerRow } from './store/billing-store.js';

export interface LedgerWriterOptions {
  /** Writes rows and settles them; must skip rows it has already written (the store does, by row id). */
  write: (rows: readonly LedgerRow[]) => Promise<number>;
  logger: Logger;
  /** Rows per statement. Default 200. */
  batchSize?: number;
  /** Longest a row waits before its batch is written. Default 200 ms. */
  flushIntervalMs?: number;
  /** First wait after a failed write, doubled up to `maxRetryDelayMs`. Default 100 ms. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Most rows kept in memory while the database cannot take them. Default 50,000. Past it, all but the
   * first batch move to a file in `spillDirectory` and are written from there once the database answers;
   * without a spill directory they are logged in full as errors instead, so memory stays bounded through
   * an outage of any length.
   */
  maxPendingRows?: number;
  /**
   * Where rows go that could not be written by shutdown (the database was down): one JSON-lines file
   * each time, replayed at the next start. Without it those rows are logged in full as errors.
   */
  spillDirectory?: string;
}

const spillPattern = /^ledger-unsent-.*\.jsonl$/;

/** A file of rows moved out of memory during an outage, written back by `#drain`. */
interface SpilledFile {
  path: string;
  rows: number;
}

/**
 * Batches ledger rows off the request path. A request only appends to an array; a timer writes batches.
 * A failed write keeps its rows (nothing is dropped, however long the database is down) and retries
 * with backoff; writes are idempotent by row id, so a retry after a write whose reply was lost is safe.
 */
export class LedgerWriter {
  readonly #options: Required<Omit<LedgerWriterOptions, 'spillDirectory'>> & { spillDirectory?: string };
  #queue: LedgerRow[] = [];
  /** Files this writer moved rows to during an outage, oldest first. */
  #spilled: SpilledFile[] = [];
  #spilledRows = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failures = 0;
  #closed = false;
  /** `close()` has returned: nothing appended now would ever be written. */
  #finished = false;
  #written = 0;
  #lastError: unknown;

  constructor(options: LedgerWriterOptions) {
    // `??` rather than spreading over defaults: the billing plugin passes its options through, and an
    // option given as `undefined` must still get its default.
    const maxPendingRows = options.maxPendingRows ?? 50_000;
    this.#options = {
      write: options.write,
      logger: options.logger,
      // A batch is what stays in memory when the rest is spilled, so it is never larger than the cap.
      batchSize: Math.min(options.batchSize ?? 200, maxPendingRows),
      flushIntervalMs: options.flushIntervalMs ?? 200,
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5_000,
      maxPendingRows,
      spillDirectory: options.spillDirectory,
    };
  }

  /** Rows waiting in memory to be written (at most `maxPendingRows`). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Rows moved to the spill directory during an outage and not yet written. */
  get spilled(): number {
    return this.#spilledRows;
  }

  /** Rows written since start. */
  get written(): number {
    return this.#written;
  }

  /** Whether the last write failed (the database is unreachable). */
  get failing(): boolean {
    return this.#failures > 0;
  }

  append(row: LedgerRow): void {
    if (this.#finished) {
      // Too late for any write: the row goes to the log rather than nowhere.
      this.#options.logger.error({ row }, 'usage ledger row recorded after shutdown');
      return;
    }
    this.#queue.push(row);
    if (this.#queue.length > this.#options.maxPendingRows) this.#offload();
    if (this.#closed) return;
    if (this.#queue.length >= this.#options.batchSize && this.#failures === 0) this.#schedule(0);
    else this.#schedule(this.#currentDelay());
  }

  #currentDelay(): number {
    if (this.#failures === 0) return this.#options.flushIntervalMs;
    return Math.min(this.#options.maxRetryDelayMs, this.#options.retryDelayMs * 2 ** (this.#failures - 1));
  }

  #schedule(delay: number): void {
    // A write in progress keeps going while rows remain, and reschedules itself when it stops.
    if (this.#writing) return;
    if (this.#timer !== undefined) {
      if (delay !== 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delay);
    // Pending writes must not keep a process alive that is otherwise done; `close()` flushes them.
    this.#timer.unref();
  }

  /**
   * Moves every row but the first batch (which a write may have in flight) out of memory: to a file when
   * there is a spill directory, otherwise to the log. Synchronous, so no row is ever in neither place;
   * it runs once per `maxPendingRows` rows while the database is unreachable, and when rows read back from
   * a file meet new ones over the cap.
   */
  #offload(): void {
    const rows = this.#queue.splice(this.#options.batchSize);
    if (rows.length === 0) return;
    // Files of at most `maxPendingRows` rows: a file is read back only once it fits under the cap.
    for (let start = 0; start < rows.length; start += this.#options.maxPendingRows) this.#spill(rows.slice(start, start + this.#options.maxPendingRows));
  }

  #spill(rows: LedgerRow[]): void {
    const directory = this.#options.spillDirectory;
    if (directory) {
      const path = join(directory, `ledger-unsent-${Date.now()}-${randomUUID()}.jsonl`);
      try {
        mkdirSync(directory, { recursive: true });
        writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + '\n', { mode: 0o600 });
        this.#spilled.push({ path, rows: rows.length });
        this.#spilledRows += rows.length;
        this.#options.logger.warn({ rows: rows.length, file: path, spilled: this.#spilledRows }, 'usage ledger buffer full while the database is unreachable: rows moved to a file, written when it answers');
        return;
      } catch (error) {
        this.#options.logger.error({ err: error }, 'could not move usage ledger rows to a file');
      }
    }
    this.#options.logger.error({ rows }, 'usage ledger buffer full while the database is unreachable: the rows follow in this log line');
  }

  /** Takes the oldest spilled file back into memory once its rows fit; false when none does. */
  async #loadSpilled(): Promise<boolean> {
    const next = this.#spilled[0];
    if (!next || this.#queue.length + next.rows > this.#options.maxPendingRows) return false;
    this.#spilled.shift();
    // Counted as spilled until they are in memory: `pending + spilled` never misses the rows being read.
    let counted = true;
    const uncount = () => {
      if (counted) this.#spilledRows -= next.rows;
      counted = false;
    };
    try {
      const text = await readFile(next.path, 'utf8');
      for (const line of text.split('\n')) if (line.trim() !== '') this.#queue.push(JSON.parse(line) as LedgerRow);
      uncount();
      // Requests kept appending while the file was read: back under the cap before anything else can run.
      // (Ledger rows are idempotent by id, so a row both in a new file and in this one is written once.)
      if (this.#queue.length > this.#options.maxPendingRows) this.#offload();
      await rm(next.path, { force: true });
    } catch (error) {
      uncount();
      // Left where it is: the next start replays it.
      this.#options.logger.error({ err: error, file: next.path }, 'could not read back usage ledger rows moved to a file');
    }
    return true;
  }

  /** Writes batches until the queue and the spilled files are empty or a write fails. */
  async #drain(): Promise<void> {
    if (this.#writing) return this.#writing;
    this.#writing = (async () => {
      while (this.#queue.length > 0 || this.#spilled.length > 0) {
        if (this.#spilled.length > 0 && (await this.#loadSpilled())) continue;
        if (this.#queue.length === 0) return;
        const batch = this.#queue.slice(0, this.#options.batchSize);
        try {
          await this.#options.write(batch);
        } catch (error) {
          this.#failures += 1;
          this.#lastError = error;
          if (this.#failures === 1 || this.#failures % 20 === 0) {
            this.#options.logger.error({ err: error, pending: this.#queue.length, failures: this.#failures }, 'usage ledger write failed; rows are kept and retried');
          }
          return;
        }
        if (this.#failures > 0) this.#options.logger.info({ pending: this.#queue.length, failures: this.#failures }, 'usage ledger writes recovered');
        this.#failures = 0;
        this.#lastError = undefined;
        // Rows appended while the batch was in flight stay queued behind it.
        this.#queue.splice(0, batch.length);
        this.#written += batch.length;
      }
    })();
    try {
      await this.#writing;
    } finally {
      this.#writing = undefined;
      if ((this.#queue.length > 0 || this.#spilled.length > 0) && !this.#closed) this.#schedule(this.#currentDelay());
    }
  }

  /**
   * Writes everything queued now. Rejects when the database refuses (the rows stay queued): reports call
   * this first so they include the caller's latest requests.
   */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    await this.#writing;
    await this.#drain();
    if (this.#queue.length > 0 || this.#spilled.length > 0) throw this.#lastError ?? new Error('usage ledger rows are still pending');
  }

  /**
   * Flushes, retrying until `deadlineMs`; rows that still cannot be written go to the spill directory
   * (or to the log), so a shutdown during an outage loses none.
   */
  async close(deadlineMs = 10_000): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + deadlineMs;
    try {
      await this.#flushOrSpill(deadline);
    } finally {
      this.#finished = true;
    }
  }

  async #flushOrSpill(deadline: number): Promise<void> {
    for (;;) {
      try {
        await this.flush();
        return;
      } catch {
        const wait = Math.min(this.#currentDelay(), deadline - Date.now());
        if (wait <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    const rows = this.#queue;
    this.#queue = [];
    if (this.#options.spillDirectory) {
      try {
        await mkdir(this.#options.spillDirectory, { recursive: true });
        const file = join(this.#options.spillDirectory, `ledger-unsent-${Date.now()}-${randomUUID()}.jsonl`);
        await writeFile(file, rows.map((row) => JSON.stringify(row)).join('\n') + '\n', { mode: 0o600 });
        this.#options.logger.error({ rows: rows.length, file }, 'usage ledger unreachable at shutdown: rows saved to a file, written at next start');
        return;
      } catch (error) {
        this.#options.logger.error({ err: error }, 'could not save unsent usage ledger rows to a file');
      }
    }
    this.#options.logger.error({ rows }, 'usage ledger unreachable at shutdown: unsent rows follow in this log line');
  }

  /**
   * Queues rows a previous run saved at shutdown and writes them; files are removed once written.
   * Replaying twice is harmless: rows already in the ledger are skipped by id.
   */
  async replaySpilled(): Promise<number> {
    const directory = this.#options.spillDirectory;
    if (!directory) return 0;
    let files: string[];
    try {
      files = (await readdir(directory)).filter((name) => spillPattern.test(name));
    } catch {
      return 0;
    }
    let replayed = 0;
    for (const name of files) {
      const path = join(directory, name);
      const rows = (await readFile(path, 'utf8'))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as LedgerRow);
      for (const row of rows) this.#queue.push(row);
      replayed += rows.length;
      try {
        await this.flush();
      } catch (error) {
        // Still unreachable: the rows stay queued and retried, and the file stays for the next start.
        this.#options.logger.error({ err: error, file: path }, 'usage ledger rows saved at the last shutdown could not be written yet');
        continue;
      }
      await rm(path, { force: true });
    }
    if (replayed > 0) this.#options.logger.info({ rows: replayed }, 'usage ledger rows saved at the last shutdown were written');
    return replayed;
  }
}
