import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Parsed JSON body, when it was JSON. */
  json: unknown;
}

export interface MockUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  requests: RecordedRequest[];
  /** Requests whose connection the client closed before the mock finished answering. */
  abortedRequests: RecordedRequest[];
  close(): Promise<void>;
}

export type MockHandler = (request: RecordedRequest, response: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

/**
 * A local HTTP server on 127.0.0.1 standing in for a provider: tests answer in the provider's real wire
 * format and inspect what the gateway sent.
 */
export async function startMockUpstream(handler: MockHandler): Promise<MockUpstream> {
  const requests: RecordedRequest[] = [];
  const abortedRequests: RecordedRequest[] = [];
  const server = createServer(async (raw, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of raw) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = { method: raw.method ?? 'GET', url: raw.url ?? '/', headers: raw.headers, body, json };
    requests.push(recorded);
    response.on('close', () => {
      if (!response.writableFinished) abortedRequests.push(recorded);
    });
    try {
      await handler(recorded, response, raw);
    } catch (error) {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: String(error), type: 'mock_error' } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    abortedRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes an SSE response: `frame` turns each payload into the provider's framing. */
export async function writeEventStream(
  response: ServerResponse,
  events: readonly string[],
  options: { delayMs?: number; headers?: Record<string, string> } = {},
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', ...options.headers });
  for (const event of events) {
    if (response.destroyed) return;
    response.write(event);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  }
  response.end();
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  response.end(payload);
}
