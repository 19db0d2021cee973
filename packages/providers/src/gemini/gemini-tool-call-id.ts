import { randomBytes } from 'node:crypto';

/*
 * Gemini 3 puts a `thoughtSignature` on the first function call of a turn and rejects the next request
 * when it does not come back on that call. OpenAI clients keep nothing but the tool call's `id`, which
 * they always echo, so the signature travels inside the id:
 *
 *   call_<random>__thought__<signature in base64url>
 *
 * Signatures are base64 bytes; the URL-safe alphabet keeps ids within `[A-Za-z0-9_-]`, which other
 * providers accept if a conversation later moves to them. A signature that is not canonical base64
 * (which Google does not send, but a proxy might) is carried as its UTF-8 text under `__thoughtraw__`,
 * so it always comes back exactly as received.
 */

const signatureMarker = '__thought__';
const rawSignatureMarker = '__thoughtraw__';
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
  if (fromUrlSafe(urlSafe) === thoughtSignature) return `${baseId}${signatureMarker}${urlSafe}`;
  return `${baseId}${rawSignatureMarker}${Buffer.from(thoughtSignature, 'utf8').toString('base64url')}`;
}

/** The signature carried by an id from `encodeToolCallId`; undefined for any other id. */
export function decodeThoughtSignature(toolCallId: string): string | undefined {
  const raw = toolCallId.indexOf(rawSignatureMarker);
  const encoded = toolCallId.indexOf(signatureMarker);
  if (raw >= 0 && (encoded < 0 || raw < encoded)) {
    const payload = toolCallId.slice(raw + rawSignatureMarker.length);
    return payload === '' ? undefined : Buffer.from(payload, 'base64url').toString('utf8');
  }
  if (encoded < 0) return undefined;
  const payload = toolCallId.slice(encoded + signatureMarker.length);
  return payload === '' ? undefined : fromUrlSafe(payload);
}

/** base64url without padding → standard base64 with padding, as Google sends it. */
function fromUrlSafe(urlSafe: string): string {
  const standard = urlSafe.replaceAll('-', '+').replaceAll('_', '/');
  return standard + '='.repeat((4 - (standard.length % 4)) % 4);
}
