import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../errors.js';
import { ResponseHeaders } from './response-headers.js';

/**
 * Sends a JSON answer in one write with an exact `content-length`: no chunked encoding, and the headers
 * and body leave together.
 */
export function writeJson(response: ServerResponse, status: number, body: string | Uint8Array, headers = new ResponseHeaders()): void {
  headers.set('content-type', 'application/json; charset=utf-8');
  // Bytes go out as they are; a string is encoded once more on the way (about twice the work of the bytes).
  headers.set('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
  headers.writeHead(response, status);
  response.end(body);
}

/**
 * The one way an error reaches a client: OpenAI's `{"error":{…}}` with the error's status, and the
 * upstream's retry hint when there is one. Headers set before the failure (request id, CORS) stay.
 */
export function writeError(response: ServerResponse, error: GatewayError, headers = new ResponseHeaders()): void {
  if (response.headersSent) {
    // Half an answer is out and the status cannot change any more; cutting the connection is the only
    // honest ending (a clean end would look like a complete answer).
    if (!response.writableEnded) response.destroy();
    return;
  }
  if (response.writableEnded || response.destroyed) return;
  if (error.retryAfterMs !== undefined) {
    headers.set('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
    headers.set('retry-after-ms', String(Math.ceil(error.retryAfterMs)));
  }
  writeJson(response, error.status, JSON.stringify(error.toJSON()), headers);
}
