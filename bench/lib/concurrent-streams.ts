import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/*
 * Many streamed requests open at once, one connection each, for measuring what a held-open stream costs
 * the server in memory. Unlike KeepAliveConnection (which resolves when a response is complete) this tells
 * when every stream has started, so memory can be read while all of them are open.
 */

export interface ConcurrentStreams {
  /** Resolves once every stream has received its first body byte; rejects if one fails first. */
  allStarted: Promise<void>;
  /** Resolves when every stream has ended, cleanly or not. */
  finished: Promise<ConcurrentStreamsResult>;
}

export interface ConcurrentStreamsResult {
  /** Streams answered 200 that ended with the terminating chunk. */
  completed: number;
  /** Streams answered otherwise, or whose connection failed or closed early. */
  failed: number;
  /** `performance.now()` when the last stream started, and when the first one ended. */
  lastStartedAt: number;
  firstEndedAt: number;
}

const headerEnd = Buffer.from('\r\n\r\n');
/** The end of a chunked body: the last data chunk's CRLF, the zero-length chunk, the empty trailer. */
const chunkedEnd = '\r\n0\r\n\r\n';

/** Writes each request on a connection of its own, all at once. Every response must be chunked (a stream). */
export function openConcurrentStreams(url: URL, requests: readonly Buffer[]): ConcurrentStreams {
  let started = 0;
  let ended = 0;
  let completed = 0;
  let lastStartedAt = 0;
  let firstEndedAt = Number.POSITIVE_INFINITY;
  let resolveStarted!: () => void;
  let rejectStarted!: (error: Error) => void;
  let resolveFinished!: (result: ConcurrentStreamsResult) => void;
  const allStarted = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  // A rejection nobody awaits yet (the caller awaits `finished` after a failure) must not crash the run.
  allStarted.catch(() => {});
  const finished = new Promise<ConcurrentStreamsResult>((resolve) => (resolveFinished = resolve));

  const onEnd = (ok: boolean, reason: string) => {
    ended++;
    if (ok) completed++;
    firstEndedAt = Math.min(firstEndedAt, performance.now());
    if (!ok && started < requests.length) rejectStarted(new Error(`A stream failed before all had started: ${reason}.`));
    if (ended === requests.length) resolveFinished({ completed, failed: ended - completed, lastStartedAt, firstEndedAt });
  };

  for (const request of requests) {
    const socket: Socket = connect({ host: url.hostname, port: Number(url.port) });
    socket.setNoDelay(true);
    let head: Buffer | undefined = Buffer.alloc(0);
    let tail = '';
    let done = false;
    const finish = (ok: boolean, reason: string) => {
      if (done) return;
      done = true;
      socket.destroy();
      onEnd(ok, reason);
    };
    socket.once('connect', () => socket.write(request));
    socket.on('data', (data: Buffer) => {
      let body = data;
      if (head) {
        const joined = Buffer.concat([head, data]);
        const end = joined.indexOf(headerEnd);
        if (end === -1) {
          head = joined;
          return;
        }
        const statusLine = joined.toString('latin1', 0, joined.indexOf('\r\n'));
        if (!/^HTTP\/1\.1 200 /.test(statusLine)) return finish(false, statusLine);
        head = undefined;
        body = joined.subarray(end + headerEnd.length);
        if (body.length === 0) return;
      }
      if (tail === '') {
        started++;
        lastStartedAt = performance.now();
        if (started === requests.length) resolveStarted();
      }
      tail = (tail + body.toString('latin1', Math.max(0, body.length - chunkedEnd.length))).slice(-chunkedEnd.length);
      if (tail === chunkedEnd) finish(true, 'complete');
    });
    socket.on('error', (error) => finish(false, error.message));
    socket.on('close', () => finish(false, 'the server closed the connection'));
  }
  return { allStarted, finished };
}
