/**
 * The reference: the least a Node proxy can do for the same job, so the gateway is measured against
 * Node + undici rather than against nothing. node:http in, undici `Pool.request` out; non-streamed answers
 * are buffered and sent with a content-length (as the gateway does), streams are piped chunk by chunk.
 * No validation, no translation, no routing: whatever the gateway spends beyond this is its own cost.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { readTargetOptions, serveTarget } from '../lib/target-process.js';

interface BareProxyOptions {
  /** Origin of the upstream; request paths are forwarded as they come. */
  upstreamUrl: string;
  /** Keep-alive connections to the upstream; the gateway's HttpClient default. */
  connections?: number;
}

await serveTarget(async () => {
  const options = readTargetOptions<BareProxyOptions>();
  const pool = new Pool(new URL(options.upstreamUrl).origin, { connections: options.connections ?? 256, keepAliveTimeout: 30_000 });

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      try {
        const upstreamResponse = await pool.request({
          method: 'POST',
          path: request.url!,
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer bench' },
          body: Buffer.concat(chunks),
        });
        const contentType = String(upstreamResponse.headers['content-type'] ?? 'application/json');
        if (contentType.includes('text/event-stream')) {
          response.writeHead(upstreamResponse.statusCode, { 'content-type': contentType, 'cache-control': 'no-cache' });
          for await (const chunk of upstreamResponse.body) response.write(chunk);
          response.end();
          return;
        }
        const body: Buffer[] = [];
        for await (const chunk of upstreamResponse.body) body.push(chunk as Buffer);
        const buffer = Buffer.concat(body);
        response.writeHead(upstreamResponse.statusCode, { 'content-type': contentType, 'content-length': String(buffer.length) });
        response.end(buffer);
      } catch (error) {
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { message: String(error), type: 'api_error', code: null, param: null } }));
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.close();
    },
  };
});
