import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { chatCompletionJson, chatCompletionStreamEvents } from './openai-payloads.js';
import type { RunningTarget } from './target-process.js';

export interface MockUpstreamOptions {
  /**
   * Pause between stream events after the first. The first event leaves with the headers at once, so a
   * client's time to first chunk measures the path, not the pause. Default 1 ms.
   */
  chunkIntervalMs?: number;
}

/*
 * An OpenAI Chat Completions upstream that costs as little CPU as possible. On a two-core machine it
 * shares a core with the load generator, and a node:http server there spends more per request than a lean
 * proxy does: the harness, not the proxy, would set the ceiling. So this speaks HTTP/1.1 keep-alive on a
 * raw socket: requests must carry a content-length (undici and the load generator always send one),
 * answers are serialised once at start. What goes over the wire is what OpenAI sends: a JSON completion
 * with its content-length, or a chunked `text/event-stream` of 20 chunks (plus the usage chunk when
 * `stream_options.include_usage` is set) and `data: [DONE]`.
 */
export async function startBenchUpstream(options: MockUpstreamOptions = {}): Promise<RunningTarget & { server: Server }> {
  const chunkIntervalMs = options.chunkIntervalMs ?? 1;
  const created = Math.floor(Date.now() / 1000);
  const json = Buffer.from(chatCompletionJson(created));
  const jsonResponse = Buffer.concat([
    Buffer.from(
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nopenai-processing-ms: 1\r\nconnection: keep-alive\r\n' +
        `content-length: ${json.length}\r\n\r\n`,
      'latin1',
    ),
    json,
  ]);
  const streamHead = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\nopenai-processing-ms: 1\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n';
  const framed = (includeUsage: boolean) => {
    const frames = chatCompletionStreamEvents(created, includeUsage).map((event) => {
      const payload = Buffer.from(event);
      return Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`, 'latin1'), payload, Buffer.from('\r\n', 'latin1')]);
    });
    // Headers and the first event in one write, as a server flushing its first token does.
    frames[0] = Buffer.concat([Buffer.from(streamHead, 'latin1'), frames[0]!]);
    // The last event and the terminating zero-length chunk together.
    frames[frames.length - 1] = Buffer.concat([frames.at(-1)!, Buffer.from('0\r\n\r\n', 'latin1')]);
    return frames;
  };
  const streamFrames = { withUsage: framed(true), withoutUsage: framed(false) };

  const answerError = (socket: Socket, status: string, message: string) => {
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: null, param: null } });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  const streamTo = (socket: Socket, frames: Buffer[], onDone: () => void) => {
    let next = 0;
    const writeNext = () => {
      if (socket.destroyed) return;
      socket.write(frames[next++]!);
      if (next === frames.length) onDone();
      else if (chunkIntervalMs > 0) setTimeout(writeNext, chunkIntervalMs);
      else setImmediate(writeNext);
    };
    writeNext();
  };

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let buffered: Buffer | undefined;
    let busy = false;

    const handle = () => {
      while (!busy && buffered && buffered.length > 0) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const head = buffered.toString('latin1', 0, headEnd);
        const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (/\r\ntransfer-encoding:/i.test(head)) return answerError(socket, '411 Length Required', 'Send a content-length.');
        const bodyLength = lengthMatch ? Number(lengthMatch[1]) : 0;
        if (buffered.length < headEnd + 4 + bodyLength) return;
        const requestLine = head.slice(0, head.indexOf('\r\n'));
        const body = buffered.toString('utf8', headEnd + 4, headEnd + 4 + bodyLength);
        buffered = buffered.subarray(headEnd + 4 + bodyLength);
        if (!/^POST \S*\/chat\/completions HTTP\/1\.1$/.test(requestLine)) return answerError(socket, '404 Not Found', `Unknown route: ${requestLine}.`);
        let request: { stream?: boolean; stream_options?: { include_usage?: boolean } };
        try {
          request = JSON.parse(body);
        } catch {
          return answerError(socket, '400 Bad Request', 'The body is not JSON.');
        }
        if (request.stream !== true) {
          socket.write(jsonResponse);
          continue;
        }
        // One answer at a time per connection: a pipelined request waits until the stream has ended.
        busy = true;
        streamTo(socket, request.stream_options?.include_usage ? streamFrames.withUsage : streamFrames.withoutUsage, () => {
          busy = false;
          handle();
        });
      }
    };

    socket.on('data', (data: Buffer) => {
      buffered = buffered && buffered.length > 0 ? Buffer.concat([buffered, data]) : data;
      handle();
    });
    socket.on('error', () => socket.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
