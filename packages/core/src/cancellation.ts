/** Called once, with the abort's reason, when a `Cancellation` is aborted. */
export type AbortListener = (reason: unknown) => void;

/**
 * The abort of one request or upstream call: an `AbortController` that makes its `AbortSignal` only when
 * someone asks for one.
 *
 * Node 20 builds each AbortSignal as an EventTarget whose prototype it then swaps, which leaves the object
 * in V8's slow dictionary mode: about 2.5 µs to make, a microsecond or two per listener added and removed,
 * and it ends in the old generation with what it holds. A gateway made one per request (and the cache's
 * coalescer one per shared call); together that was about a seventh of a plain proxied request's CPU,
 * mostly for requests whose client never left. `subscribe` is the cheap way to hear of the abort; `signal`
 * is there for APIs that need a real AbortSignal (`fetch`, `events.once`, undici's `request`).
 *
 * A cancellation made with a parent (a `Cancellation` or an `AbortSignal`) is aborted when the parent is,
 * with the parent's reason, and can also be aborted on its own (a per-attempt timeout): narrower, never
 * wider. `detach` stops following the parent once the child's work is over.
 */
export class Cancellation {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined = undefined;
  // One listener is the common case (the upstream call's), so it is held alone; more make an array.
  #listeners: AbortListener | AbortListener[] | undefined = undefined;
  #parent: Cancellation | AbortSignal | undefined = undefined;
  #onParentAbort: (() => void) | undefined = undefined;

  constructor(parent?: Cancellation | AbortSignal) {
    if (parent === undefined) return;
    if (parent.aborted) {
      this.abort(parent.reason);
      return;
    }
    this.#parent = parent;
    // Reads the reason from the parent: a Cancellation passes it, an AbortSignal passes an Event.
    this.#onParentAbort = () => this.abort(parent.reason);
    if (isCancellation(parent)) parent.subscribe(this.#onParentAbort);
    else parent.addEventListener('abort', this.#onParentAbort, { once: true });
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** What `abort` was given; undefined until then. */
  get reason(): unknown {
    return this.#reason;
  }

  /** A real AbortSignal that follows this cancellation, made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Aborts: every listener is called once, the signal (when made) aborts, children follow. A second call
   * does nothing. Without a reason, an `AbortError` DOMException, as `AbortController.abort()` gives.
   * A listener that throws does not keep the others from running; the first error is thrown once all
   * have run.
   */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.detach();
    const listeners = this.#listeners;
    this.#listeners = undefined;
    this.#controller?.abort(reason);
    if (typeof listeners === 'function') listeners(reason);
    else if (listeners) {
      let failure: { error: unknown } | undefined;
      for (const listener of listeners) {
        try {
          listener(reason);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    }
  }

  /** Calls `listener` when this is aborted. Nothing happens when it already is: check `aborted` first. */
  subscribe(listener: AbortListener): void {
    if (this.#aborted) return;
    const listeners = this.#listeners;
    if (listeners === undefined) this.#listeners = listener;
    else if (typeof listeners === 'function') this.#listeners = [listeners, listener];
    else listeners.push(listener);
  }

  /** Removes a listener added by `subscribe` (once, if it was added twice). */
  unsubscribe(listener: AbortListener): void {
    const listeners = this.#listeners;
    if (listeners === listener) this.#listeners = undefined;
    else if (Array.isArray(listeners)) {
      const index = listeners.indexOf(listener);
      if (index !== -1) listeners.splice(index, 1);
    }
  }

  /** Stops following the parent: its abort no longer reaches this one, and the parent holds nothing of it. */
  detach(): void {
    const parent = this.#parent;
    if (parent === undefined) return;
    this.#parent = undefined;
    const listener = this.#onParentAbort!;
    this.#onParentAbort = undefined;
    if (isCancellation(parent)) parent.unsubscribe(listener);
    else parent.removeEventListener('abort', listener);
  }

  /** Throws the reason when aborted, like `AbortSignal.throwIfAborted`. */
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }
}

/**
 * Whether an abort source is a `Cancellation` rather than an AbortSignal. By shape rather than `instanceof`:
 * a plugin bundling its own copy of the core still passes a working one.
 */
export function isCancellation(value: Cancellation | AbortSignal): value is Cancellation {
  return typeof (value as Partial<Cancellation>).subscribe === 'function';
}
