import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Cancellation } from '../cancellation.js';
import type { ResponseHeaders } from './response-headers.js';

/**
 * Writes server-sent events straight to the socket, one write per event, so every chunk leaves as soon
 * as it arrives. When the client reads slower than the model writes, `write` waits for `drain` instead
 * of queueing: memory per stream stays bounded by the socket buffer.
 */
export class SseWriter {
  readonly #response: ServerResponse;
  readonly #cancellation: Cancellation;
  readonly #headers: ResponseHeaders;

  constructor(response: ServerResponse, cancellation: Cancellation, headers: ResponseHeaders) {
    this.#response = response;
    this.#cancellation = cancellation;
    this.#headers = headers;
  }

  /**
   * Sets the status and headers; headers set earlier on the response (request id, model) go along. They
   * leave with the first event, in the same packet: flushing them alone would cost the client a round of
   * its own before the first chunk.
   */
  start(status: number): void {
    const headers = this.#headers;
    headers.set('content-type', 'text/event-stream; charset=utf-8');
    headers.set('cache-control', 'no-cache, no-transform');
    headers.set('connection', 'keep-alive');
    // Tells nginx-style proxies not to buffer the stream either.
    headers.set('x-accel-buffering', 'no');
    // Stored, not sent: the head goes out with the first event.
    headers.writeHead(this.#response, status);
    // Each event is one small write that Nagle's algorithm would hold back: Node's HTTP server turns it
    // off on every connection (`noDelay`), the gateway's own `listen` included.
  }

  /**
   * Hands the event to the socket: true at once when the socket took it, otherwise a promise that resolves
   * once the client has read enough (true) or is gone (false). Returning plain `true` in the common case
   * saves a promise and a microtask per chunk.
   */
  data(payload: string): boolean | Promise<boolean> {
    const response = this.#response;
    if (response.destroyed || response.writableEnded) return false;
    if (response.write(`data: ${payload}\n\n`)) return true;
    return this.#drained();
  }

  async #drained(): Promise<boolean> {
    try {
      // The signal is made only here, for a client that reads slower than the model writes.
      await once(this.#response, 'drain', { signal: this.#cancellation.signal });
      return true;
    } catch {
      return false;
    }
  }

  end(): void {
    const response = this.#response;
    if (!response.writableEnded) response.end();
  }
}
