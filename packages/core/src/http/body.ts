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
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limits.maxBytes) {
      request.resume();
      throw tooLarge(limits.maxBytes);
    }
    chunks.push(chunk);
  }
  if (total === 0) throw GatewayError.invalidRequest('The request body is empty; send a JSON object.', null, 'invalid_body');
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
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

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses bodies nested deeper than `maxDepth`: serialising them again for the upstream call would
 * recurse that deep. Brackets inside strings do not count.
 */
function checkDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 92 /* \ */) index++;
      else if (code === 34 /* " */) inString = false;
    } else if (code === 34) {
      inString = true;
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
