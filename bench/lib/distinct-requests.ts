/*
 * Chat Completions requests that differ from one another only in a serial number inside the user's
 * message: the part a response cache keys on (`user`, `metadata` and `stream` are not part of its key).
 * Every serial has the same number of digits, so all requests of a kind have the same size.
 */
import { encodeRequest } from './http-connection.js';
import { inTurn, neverRepeating, type RequestSource } from './rotating-load.js';

const serialDigits = 9;

export function distinctChatBody(model: string, stream: boolean, label: string, serial: number): string {
  return JSON.stringify({
    model,
    messages: [
      { role: 'system', content: 'You answer in one short sentence.' },
      { role: 'user', content: `${label} ${String(serial).padStart(serialDigits, '0')}: what is a tide table for?` },
    ],
    max_tokens: 64,
    temperature: 0.2,
    ...(stream ? { stream: true } : {}),
  });
}

export interface DistinctRequestsOptions {
  url: URL;
  model: string;
  headers: Record<string, string>;
  /** Sets the requests of one source apart from every other source's. */
  label: string;
}

/** `count` distinct non-streamed requests, pre-encoded, handed out in turn (see `inTurn`). */
export function distinctChatRequestsInTurn(options: DistinctRequestsOptions & { count: number }): RequestSource {
  return inTurn(Array.from({ length: options.count }, (_, serial) => encodeRequest(options.url, 'POST', '/v1/chat/completions', distinctChatBody(options.model, false, options.label, serial), options.headers)));
}

/** Streamed requests, each one new. */
export function distinctStreamRequests(options: DistinctRequestsOptions): RequestSource {
  return neverRepeating((serial) => encodeRequest(options.url, 'POST', '/v1/chat/completions', distinctChatBody(options.model, true, options.label, serial), options.headers));
}
