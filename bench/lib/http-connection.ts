import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/*
 * A minimal HTTP/1.1 keep-alive client for load generation. General clients (undici, http.request) spend
 * more CPU per request than a lean proxy does, and on a two-core machine the load generator shares a core
 * with the mock upstream: a heavy client would cap the numbers it is meant to measure. This one writes a
 * pre-encoded request and parses only what it needs (status, content-length or chunked framing), and it
 * timestamps the first body byte, which is how time to first chunk is measured.
 */

export interface ResponseTiming {
  status: number;
  /** Body bytes after transfer decoding. */
  bodyBytes: number;
  /** `performance.now()` when the request was written. */
  sentAt: number;
  /** `performance.now()` when the first body byte arrived (equals `endAt` for an empty body). */
  firstBodyAt: number;
  /** `performance.now()` when the response was complete. */
  endAt: number;
  /** The decoded body, only when asked for (validation, not load). */
  body?: Buffer;
}

/** Encodes a request once; the same bytes are written for every request of a run. */
export function encodeRequest(url: URL, method: 'GET' | 'POST', path: string, body?: string, headers: Record<string, string> = {}): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(body);
  let head = `${method} ${path} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (payload) head += `content-type: application/json\r\ncontent-length: ${payload.length}\r\n`;
  head += '\r\n';
  return payload ? Buffer.concat([Buffer.from(head, 'latin1'), payload]) : Buffer.from(head, 'latin1');
}

type Phase = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer';

interface Pending {
  resolve(timing: ResponseTiming): void;
  reject(error: Error): void;
  timing: ResponseTiming;
  keepBody: boolean;
  bodyParts: Buffer[];
}

const headerEnd = Buffer.from('\r\n\r\n');
const lineEnd = Buffer.from('\r\n');
const maxHeadBytes = 64 * 1024;

export class KeepAliveConnection {
  readonly #socket: Socket;
  #pending: Pending | undefined;
  #buffer: Buffer | undefined;
  #phase: Phase = 'head';
  #remaining = 0;
  #closedError: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('The server closed the connection.')));
  }

  static open(url: URL): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new KeepAliveConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes the request and resolves with the response's timing. One request at a time per connection. */
  send(request: Buffer, options: { keepBody?: boolean } = {}): Promise<ResponseTiming> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    if (this.#pending) return Promise.reject(new Error('A request is already in flight on this connection.'));
    return new Promise((resolve, reject) => {
      const sentAt = performance.now();
      this.#pending = { resolve, reject, keepBody: options.keepBody === true, bodyParts: [], timing: { status: 0, bodyBytes: 0, sentAt, firstBodyAt: 0, endAt: 0 } };
      this.#phase = 'head';
      this.#socket.write(request);
    });
  }

  close(): void {
    this.#closedError ??= new Error('The connection was closed.');
    this.#socket.destroy();
  }

  #fail(error: Error): void {
    this.#closedError ??= error;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  #onData(data: Buffer): void {
    const pending = this.#pending;
    if (!pending) {
      this.#socket.destroy(new Error('The server sent bytes nobody asked for.'));
      return;
    }
    const buffer = this.#buffer ? Buffer.concat([this.#buffer, data]) : data;
    this.#buffer = undefined;
    let offset = 0;
    const now = performance.now();
    while (offset < buffer.length) {
      if (this.#phase === 'head') {
        const end = buffer.indexOf(headerEnd, offset);
        if (end === -1) {
          if (buffer.length - offset > maxHeadBytes) return this.#protocolError('response headers are too large');
          break;
        }
        if (!this.#readHead(buffer.toString('latin1', offset, end), pending)) return;
        offset = end + headerEnd.length;
        // #readHead has just chosen the body's phase.
        if ((this.#phase as Phase) === 'length' && this.#remaining === 0) {
          this.#complete(pending, now);
          break;
        }
        continue;
      }
      if (this.#phase === 'length' || this.#phase === 'chunk-data') {
        const take = Math.min(this.#remaining, buffer.length - offset);
        if (take > 0) this.#body(pending, buffer, offset, take, now);
        offset += take;
        this.#remaining -= take;
        if (this.#remaining > 0) break;
        if (this.#phase === 'length') {
          this.#complete(pending, now);
          break;
        }
        this.#phase = 'chunk-end';
        this.#remaining = 2;
        continue;
      }
      if (this.#phase === 'chunk-end') {
        const take = Math.min(this.#remaining, buffer.length - offset);
        offset += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#phase = 'chunk-size';
        continue;
      }
      // chunk-size and trailer lines
      const end = buffer.indexOf(lineEnd, offset);
      if (end === -1) break;
      const line = buffer.toString('latin1', offset, end);
      offset = end + lineEnd.length;
      if (this.#phase === 'chunk-size') {
        const size = Number.parseInt(line, 16);
        if (!Number.isFinite(size) || size < 0) return this.#protocolError(`bad chunk size '${line}'`);
        if (size === 0) this.#phase = 'trailer';
        else {
          this.#phase = 'chunk-data';
          this.#remaining = size;
        }
      } else if (line === '') {
        this.#complete(pending, now);
        break;
      }
    }
    if (offset < buffer.length) {
      if (this.#pending !== pending) return this.#protocolError('bytes after the end of the response');
      this.#buffer = buffer.subarray(offset);
    }
  }

  #readHead(head: string, pending: Pending): boolean {
    const status = Number(head.slice(9, 12));
    if (!head.startsWith('HTTP/1.1 ') || !Number.isInteger(status)) {
      this.#protocolError('not an HTTP/1.1 response');
      return false;
    }
    pending.timing.status = status;
    let contentLength: number | undefined;
    let chunked = false;
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).toLowerCase();
      if (name === 'content-length') contentLength = Number(line.slice(colon + 1).trim());
      else if (name === 'transfer-encoding') chunked = line.slice(colon + 1).toLowerCase().includes('chunked');
    }
    if (chunked) this.#phase = 'chunk-size';
    else if (contentLength !== undefined) {
      this.#phase = 'length';
      this.#remaining = contentLength;
    } else if (status === 204 || status === 304) {
      this.#phase = 'length';
      this.#remaining = 0;
    } else {
      this.#protocolError('a response without content-length or chunked encoding');
      return false;
    }
    return true;
  }

  #body(pending: Pending, buffer: Buffer, offset: number, length: number, now: number): void {
    if (pending.timing.bodyBytes === 0) pending.timing.firstBodyAt = now;
    pending.timing.bodyBytes += length;
    if (pending.keepBody) pending.bodyParts.push(Buffer.from(buffer.subarray(offset, offset + length)));
  }

  #complete(pending: Pending, now: number): void {
    this.#pending = undefined;
    this.#phase = 'head';
    pending.timing.endAt = now;
    if (pending.timing.bodyBytes === 0) pending.timing.firstBodyAt = now;
    if (pending.keepBody) pending.timing.body = Buffer.concat(pending.bodyParts);
    pending.resolve(pending.timing);
  }

  #protocolError(message: string): void {
    this.#socket.destroy(new Error(`HTTP protocol error: ${message}.`));
  }
}
