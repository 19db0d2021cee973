import type { ChatCompletionChunk, UpstreamCall, UpstreamRequest, UpstreamResult } from '@switchyard/core';

/** One upstream call shared by every identical request that arrives while it runs. */
class SharedCall {
  readonly controller = new AbortController();
  consumers = 0;
  result: Promise<UpstreamResult>;
  /** For a stream: every chunk so far, so a request that joins late still gets the whole answer. */
  readonly chunks: ChatCompletionChunk[] = [];
  streamEnded = false;
  streamError: unknown;
  /** The upstream call is over (a whole answer, a failure or the stream's end): nothing is left to cancel. */
  finished = false;
  #wake: Array<() => void> = [];

  constructor(start: (signal: AbortSignal) => Promise<UpstreamResult>, onSettled: () => void) {
    this.result = start(this.controller.signal).then(
      (result) => {
        if (result.type === 'stream') void this.#pump(result.stream, onSettled);
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

  async #pump(stream: AsyncIterable<ChatCompletionChunk>, onSettled: () => void): Promise<void> {
    try {
      for await (const chunk of stream) {
        this.chunks.push(chunk);
        this.#notify();
      }
    } catch (error) {
      this.streamError = error;
    } finally {
      this.streamEnded = true;
      this.finished = true;
      onSettled();
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

  /** A consumer left; when the last one has, the upstream call is no longer wanted. */
  leave(): void {
    this.consumers -= 1;
    // Aborting a finished call would only cost the time to build the exception and run the listeners.
    if (this.consumers === 0 && !this.finished) this.controller.abort(new DOMException('Every client of this request went away.', 'AbortError'));
  }
}

/**
 * Request coalescing: identical requests in flight at the same time share one upstream call, JSON or stream.
 * The shared call outlives any one client — it is cancelled only when every client sharing it is gone.
 */
export class Coalescer {
  readonly #inFlight = new Map<string, SharedCall>();

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async run(key: string, request: UpstreamRequest, next: UpstreamCall): Promise<UpstreamResult & { coalesced: boolean }> {
    let shared = this.#inFlight.get(key);
    const coalesced = shared !== undefined;
    if (!shared) {
      const created: SharedCall = new SharedCall(
        (signal) => next({ ...request, signal }),
        () => {
          if (this.#inFlight.get(key) === created) this.#inFlight.delete(key);
        },
      );
      shared = created;
      this.#inFlight.set(key, shared);
    }
    shared.consumers += 1;
    const current = shared;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      request.signal.removeEventListener('abort', leave);
      current.leave();
    };
    request.signal.addEventListener('abort', leave, { once: true });
    let result: UpstreamResult;
    try {
      result = await current.result;
    } catch (error) {
      leave();
      throw error;
    }
    if (result.type === 'response') {
      leave();
      // Each client gets its own copy: later hooks (billing adds a cost) must not see each other's changes.
      return { type: 'response', response: coalesced ? structuredClone(result.response) : result.response, target: result.target, coalesced };
    }
    async function* replay(): AsyncGenerator<ChatCompletionChunk> {
      let index = 0;
      try {
        for (;;) {
          while (index < current.chunks.length) yield coalesced ? structuredClone(current.chunks[index++]!) : current.chunks[index++]!;
          if (current.streamEnded) {
            if (current.streamError !== undefined) throw current.streamError;
            return;
          }
          await current.waitForMore();
        }
      } finally {
        leave();
      }
    }
    return { type: 'stream', stream: replay(), target: result.target, coalesced };
  }
}
