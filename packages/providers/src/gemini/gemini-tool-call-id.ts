import { randomBytes } from 'node:crypto';

/*
 * Gemini 3 puts a `thoughtSignature` on the first function call of a turn and rejects the next request
 * when it does not come back on that call. OpenAI clients keep nothing but the tool call's `id`, which
 * they always echo, so the signature travels inside the id:
 *
 *   call_<random>__thought__<signature in base64url>
 *
 * Signatures are base64 bytes; the URL-safe alphabet keeps ids within `[A-Za-z0-9_-]`, which other
 * providers accept if a conversation later moves to them.
 */

const signatureMarker = '__thought__';
const idAlphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh `call_…` id: Gemini's function calls carry none the client could echo. */
export function createToolCallId(): string {
  const bytes = randomBytes(24);
  let id = 'call_';
  for (const byte of bytes) id += idAlphabet[byte % idAlphabet.length];
  return id;
}

export function encodeToolCallId(baseId: string, thoughtSignature: string | null | undefined): string {
  if (!thoughtSignature) return baseId;
  const urlSafe = thoughtSignature.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
  return `${baseId}${signatureMarker}${urlSafe}`;
}

/** The signature carried by an id from `encodeToolCallId`, in Gemini's standard base64; undefined for other ids. */
export function decodeThoughtSignature(toolCallId: string): string | undefined {
  const at = toolCallId.indexOf(signatureMarker);
  if (at < 0) return undefined;
  const urlSafe = toolCallId.slice(at + signatureMarker.length);
  if (urlSafe === '') return undefined;
  const standard = urlSafe.replaceAll('-', '+').replaceAll('_', '/');
  return standard + '='.repeat((4 - (standard.length % 4)) % 4);
}
