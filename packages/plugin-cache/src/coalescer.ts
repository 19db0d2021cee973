import { Cancellation, type ChatCompletionChunk, type UpstreamCall, type UpstreamRequest, type UpstreamResult } from '@switchyard/core';

/** Where one consumer of a shared stream has read up to: the absolute index of its next chunk. */
interface Cursor {
  position: number;
}

/**
 * Chunks a shared stream keeps so that a request joining late still gets the whole answer. Past this many
 * the call stops taking new requests (they make a call of their own) and keeps only what its consumers
 * have not read yet: a long answer held whole for every open stream would grow memory with answer length.
 */
const defaultMaxHistoryChunks = 256;

/** One upstream call shared by every identical request that arrives while it runs. */
class SharedCall {
  /** The shared upstream call's own: it ends only when every client has left (see `leave`). */
  readonly cancellation = new Cancellation();
  consumers = 0;
  result: Promise<UpstreamResult>;
  /** New identical requests may join (the history is still whole). */
  joinable = true;
  streamEnded = false;
  streamError: unknown;
  /** The upstream call is over (a whole answer, a failure or the stream's end): nothing is left to cancel. */
  finished = false;
  /** The stream's chunks from absolute index `#first` on. */
  #chunks: ChatCompletionChunk[] = [];
  #first = 0;
  readonly #cursors = new Set<Cursor>();
  readonly #maxHistoryChunks: number;
  readonly #onSettled: () => void;
  #wake: Array<() => void> = [];

  constructor(start: (cancellation: Cancellation) => Promise<UpstreamResult>, onSettled: () => void, maxHistoryChunks: number) {
    this.#onSettled = onSettled;
    this.#maxHistoryChunks = maxHistoryChunks;
    this.result = start(this.cancellation).then(
      (result) => {
        if (result.type === 'stream') void this.#pump(result.stream);
        else {
          this.finished = true;
          onSettled();
        }
        return result;
      },
      (error: unknown) => {
        this.finished = true;
        onSettled();
        throw error;
      },
    );
  }

  /** Chunks received so far, counting those already dropped. */
  get received(): number {
    return this.#first + this.#chunks.length;
  }

  async #pump(stream: AsyncIterable<ChatCompletionChunk>): Promise<void> {
    try {
      for await (const chunk of stream) {
        this.#chunks.push(chunk);
        if (this.joinable && this.#chunks.length > this.#maxHistoryChunks) {
          this.joinable = false;
          // Out of the coalescer's map: the next identical request starts a call of its own.
          this.#onSettled();
        }
        this.#notify();
      }
    } catch (error) {
      this.streamError = error;
    } finally {
      this.streamEnded = true;
      this.finished = true;
      this.#onSettled();
      this.#notify();
    }
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }

  waitForMore(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  openCursor(): Cursor {
    const cursor = { position: 0 };
    this.#cursors.add(cursor);
    return cursor;
  }

  closeCursor(cursor: Cursor): void {
    this.#cursors.delete(cursor);
    this.#trim();
  }

  /** The chunk at the cursor, moving it on; undefined when the cursor has read everything received so far. */
  next(cursor: Cursor): ChatCompletionChunk | undefined {
    if (cursor.position >= this.received) return undefined;
    const chunk = this.#chunks[cursor.position - this.#first]!;
    cursor.position += 1;
    if (!this.joinable) this.#trim();
    return chunk;
  }

  /** Once nobody can join, drops the chunks every consumer has read (in steps, not one shift per chunk). */
  #trim(): void {
    if (this.joinable) return;
    let lowest = this.received;
    for (const cursor of this.#cursors) lowest = Math.min(lowest, cursor.position);
    const unread = lowest - this.#first;
    if (unread >= 64 || (unread > 0 && unread === this.#chunks.length)) {
      this.#chunks.splice(0, unread);
      this.#first = lowest;
    }
  }

  /** A consumer left; when the last one has, the upstream call is no longer wanted. */
  leave(): void {
    this.consumers -= 1;
    // Aborting a finished call would only cost the time to build the exception and run the listeners.
    if (this.consumers === 0 && !this.finished) this.cancellation.abort(new DOMException('Every client of this request went away.', 'AbortError'));
  }
}

/**
 * Request coalescing: identical requests in flight at the same time share one upstream call, JSON or stream.
 * The shared call outlives any one client — it is cancelled only when every client sharing it is gone.
 */
export class Coalescer {
  /**
   * Calls in flight by key, in a prototype-less object rather than a Map. A long-lived Map that takes and
   * drops an entry per request keeps, in the tables it outgrew, references to the entries it held; V8 (as
   * in Node 20) then carries every call, and the request it belongs to, into the old generation, which made
   * garbage collection a fifth of a cached gateway's CPU. An object in dictionary mode drops them at once.
   */
  readonly #inFlight: Record<string, SharedCall | undefined> = Object.create(null) as Record<string, SharedCall | undefined>;
  #inFlightCount = 0;
  readonly #maxHistoryChunks: number;

  constructor(options: { maxHistoryChunks?: number } = {}) {
    this.#maxHistoryChunks = options.maxHistoryChunks ?? defaultMaxHistoryChunks;
  }

  get inFlight(): number {
    return this.#inFlightCount;
  }

  async run(key: string, request: UpstreamRequest, next: UpstreamCall): Promise<UpstreamResult & { coalesced: boolean }> {
    let shared = this.#inFlight[key];
    const coalesced = shared !== undefined;
    if (!shared) {
      const created: SharedCall = new SharedCall(
        (cancellation) => next({ ...request, cancellation }),
        () => {
          if (this.#inFlight[key] !== created) return;
          delete this.#inFlight[key];
          this.#inFlightCount -= 1;
        },
        this.#maxHistoryChunks,
      );
      shared = created;
      this.#inFlight[key] = shared;
      this.#inFlightCount += 1;
    }
    shared.consumers += 1;
    const current = shared;
    // Opened now, not when the stream is read: the history this request will replay is kept from here on.
    const cursor = current.openCursor();
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      request.cancellation.unsubscribe(leave);
      current.leave();
    };
    request.cancellation.subscribe(leave);
    let result: UpstreamResult;
    try {
      result = await current.result;
    } catch (error) {
      current.closeCursor(cursor);
      leave();
      throw error;
    }
    if (result.type === 'response') {
      current.closeCursor(cursor);
      leave();
      // Each client gets its own copy of the object, so no hook sees another request's; the JSON text, a
      // string, is shared as it is.
      return { type: 'response', response: coalesced ? structuredClone(result.response) : result.response, json: result.json, target: result.target, coalesced };
    }
    return { type: 'stream', stream: replayShared(current, cursor, coalesced, leave), target: result.target, coalesced };
  }
}

/**
 * One consumer's reading of a shared stream, from its cursor. Module-level, not a generator function made
 * per request: each of those comes with a prototype object of its own (about half a kilobyte more per
 * open stream).
 */
async function* replayShared(shared: SharedCall, cursor: Cursor, coalesced: boolean, leave: () => void): AsyncGenerator<ChatCompletionChunk> {
  try {
    for (;;) {
      for (let chunk = shared.next(cursor); chunk !== undefined; chunk = shared.next(cursor)) yield coalesced ? structuredClone(chunk) : chunk;
      if (shared.streamEnded) {
        if (shared.streamError !== undefined) throw shared.streamError;
        return;
      }
      await shared.waitForMore();
    }
  } finally {
    shared.closeCursor(cursor);
    leave();
  }
}
