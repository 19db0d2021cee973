import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/**
 * Writes server-sent events straight to the socket, one write per event, so every chunk leaves as soon
 * as it arrives. When the client reads slower than the model writes, `write` waits for `drain` instead
 * of queueing: memory per stream stays bounded by the socket buffer.
 */
export class SseWriter {
  readonly #response: ServerResponse;
  readonly #signal: AbortSignal;

  constructor(response: ServerResponse, signal: AbortSignal) {
    this.#response = response;
    this.#signal = signal;
  }

  /** Sends the status and headers; headers set earlier on the response (request id, model) go along. */
  start(status: number): void {
    const response = this.#response;
    response.statusCode = status;
    response.setHeader('content-type', 'text/event-stream; charset=utf-8');
    response.setHeader('cache-control', 'no-cache, no-transform');
    response.setHeader('connection', 'keep-alive');
    // Tells nginx-style proxies not to buffer the stream either.
    response.setHeader('x-accel-buffering', 'no');
    response.flushHeaders();
    // Each event is one small write; Nagle's algorithm would hold them back waiting for more.
    response.socket?.setNoDelay(true);
  }

  /** Resolves once the event is handed to the socket; false when the client is gone. */
  async data(payload: string): Promise<boolean> {
    const response = this.#response;
    if (response.destroyed || response.writableEnded) return false;
    if (!response.write(`data: ${payload}\n\n`)) {
      try {
        await once(response, 'drain', { signal: this.#signal });
      } catch {
        return false;
      }
    }
    return true;
  }

  end(): void {
    const response = this.#response;
    if (!response.writableEnded) response.end();
  }
}
