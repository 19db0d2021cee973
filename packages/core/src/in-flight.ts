import type { Cancellation } from './cancellation.js';

/** One request being answered, as `InFlightRequests` holds it. */
export interface InFlightEntry {
  readonly cancellation: Cancellation;
  previous: InFlightEntry | undefined;
  next: InFlightEntry | undefined;
}

/**
 * The requests a gateway is answering, for `close()`: how many are left to drain, and which to cut when
 * the drain deadline passes.
 *
 * A linked list rather than a Set: a long-lived Set that takes and drops an entry per request keeps, in the
 * tables it outgrew, references to entries it once held, and V8 (as in Node 20) then carries each request
 * those entries reach into the old generation; garbage collection grew with every request in flight. Entries
 * here are unlinked completely, so a finished request holds nothing and nothing holds it.
 */
export class InFlightRequests {
  #first: InFlightEntry | undefined = undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(cancellation: Cancellation): InFlightEntry {
    const entry: InFlightEntry = { cancellation, previous: undefined, next: this.#first };
    if (this.#first) this.#first.previous = entry;
    this.#first = entry;
    this.#size += 1;
    return entry;
  }

  /** Removes an entry added by `add`; removing it twice does nothing. */
  delete(entry: InFlightEntry): void {
    if (entry.previous === undefined && this.#first !== entry) return;
    if (entry.previous) entry.previous.next = entry.next;
    else this.#first = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    entry.previous = undefined;
    entry.next = undefined;
    this.#size -= 1;
  }

  /**
   * Aborts every request still in the list (they remove themselves as they finish). A failing abort
   * listener does not spare the requests after it; `onListenerError` hears of it.
   */
  abortAll(reason: unknown, onListenerError: (error: unknown) => void = () => {}): void {
    const cancellations: Cancellation[] = [];
    for (let entry = this.#first; entry; entry = entry.next) cancellations.push(entry.cancellation);
    for (const cancellation of cancellations) {
      try {
        cancellation.abort(reason);
      } catch (error) {
        onListenerError(error);
      }
    }
  }
}
