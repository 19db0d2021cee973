import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

export interface BodyLimits {
  /** Largest accepted body in bytes. */
  maxBytes: number;
  /** Deepest accepted nesting of arrays and objects. */
  maxDepth: number;
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError({
    message: `The request body exceeds the gateway's limit of ${limit} bytes.`,
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
  });
}

/**
 * Reads and parses a JSON body. The declared length is checked before reading a byte, and the running
 * total while reading, so an oversize body is refused without being buffered.
 */
export async function readJsonBody(request: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    request.resume();
    throw tooLarge(limits.maxBytes);
  }
  const buffer = await readBodyBytes(request, limits.maxBytes);
  if (buffer.length === 0) throw GatewayError.invalidRequest('The request body is empty; send a JSON object.', null, 'invalid_body');
  // Decoding with `fatal` refuses invalid UTF-8 instead of silently replacing it with U+FFFD.
  let text: string;
  try {
    text = utf8Decoder.decode(buffer);
  } catch {
    throw GatewayError.invalidRequest('The request body is not valid UTF-8.', null, 'invalid_body');
  }
  checkDepth(text, limits.maxDepth);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw GatewayError.invalidRequest(
      `The request body is not valid JSON: ${(error as Error).message}`,
      null,
      'invalid_json',
    );
  }
}

/**
 * The body's bytes through `data`/`end` events: `for await` over the request builds an async iterator
 * and a promise per chunk, about three times the cost for the small bodies of chat requests. A client
 * that goes away before the end rejects (nobody is left to answer), it never leaves the request hanging.
 */
function readBodyBytes(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let ended = false;
    const cleanUp = () => {
      request.removeListener('data', onData);
      request.removeListener('end', onEnd);
      request.removeListener('error', onError);
      request.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanUp();
        // The rest is read and dropped, so the 413 can still be answered on this connection.
        request.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      // The listeners stay: after the end no data comes, and a later error or close (every request
      // closes) finds `ended` and does nothing. Taking off four listeners cost more than reading a small body.
      ended = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      chunks.length = 0;
      resolve(body);
    };
    const onError = (error: Error) => {
      if (ended) return;
      cleanUp();
      reject(clientGone(error));
    };
    const onClose = () => {
      if (ended) return;
      cleanUp();
      reject(clientGone());
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

function clientGone(cause?: unknown): GatewayError {
  return new GatewayError({
    message: 'The client closed the connection before sending the whole request body.',
    status: 400,
    type: 'invalid_request_error',
    code: 'incomplete_body',
    cause,
  });
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses bodies nested deeper than `maxDepth`: serialising them again for the upstream call would
 * recurse that deep. Brackets inside strings do not count. Strings are skipped with `indexOf`, which
 * searches natively: a chat request is mostly text, and looking at each of its characters in JavaScript
 * cost as much as parsing the whole body.
 */
export function checkDepth(text: string, maxDepth: number): void {
  if (!mayNestDeeperThan(text, maxDepth)) return;
  let depth = 0;
  const length = text.length;
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code === 34 /* " */) {
      index = closingQuote(text, index);
      if (index === -1) return; // unterminated: JSON.parse words that error
    } else if (code === 123 /* { */ || code === 91 /* [ */) {
      depth++;
      if (depth > maxDepth) {
        throw GatewayError.invalidRequest(`The request body is nested deeper than ${maxDepth} levels.`, null, 'invalid_body');
      }
    } else if (code === 125 /* } */ || code === 93 /* ] */) {
      depth--;
    }
  }
}

/**
 * Whether the text has more opening brackets than `maxDepth`, counting those inside strings too: when it
 * has not, it cannot nest deeper, and the scan is not needed. An ordinary chat request has a handful, and
 * finding each one with `indexOf` is far cheaper than walking its strings.
 */
function mayNestDeeperThan(text: string, maxDepth: number): boolean {
  let openings = 0;
  for (let index = text.indexOf('{'); index !== -1; index = text.indexOf('{', index + 1)) if (++openings > maxDepth) return true;
  for (let index = text.indexOf('['); index !== -1; index = text.indexOf('[', index + 1)) if (++openings > maxDepth) return true;
  return false;
}

/** The index of the quote that closes the string opened at `opening`, or -1: a quote is escaped by an odd run of backslashes before it. */
function closingQuote(text: string, opening: number): number {
  let quote = text.indexOf('"', opening + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}
