import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every virtual key starts with this, so secret scanners and people can tell what it is. */
export const keyPrefix = 'sk-sy-';

/** Random bytes in a key: 256 bits, beyond guessing, so a fast hash is enough to store it. */
const keyBytes = 32;

/** A new secret key: `sk-sy-` and 43 URL-safe characters. */
export function generateKey(): string {
  return keyPrefix + randomBytes(keyBytes).toString('base64url');
}

/** A new key id, safe to show and log: `key_` and 16 URL-safe characters. */
export function generateKeyId(): string {
  return `key_${randomBytes(12).toString('base64url')}`;
}

/**
 * What is stored instead of the key. SHA-256 suffices: keys carry 256 random bits, so there is nothing
 * to brute-force that a slow password hash would protect.
 */
export function hashKey(key: string): string {
  // One-shot `hash` rather than a Hash object: half the cost for inputs this small.
  return hash('sha256', key, 'hex');
}

/** The part of a key shown in listings and logs: enough to recognise it, useless to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, keyPrefix.length + 6);
}

/** Whether the text looks like one of our keys; other tokens are not even looked up. */
export function isVirtualKeyFormat(text: string): boolean {
  return text.startsWith(keyPrefix) && text.length === keyPrefix.length + 43 && /^[\w-]+$/.test(text.slice(keyPrefix.length));
}

/** Compares two secrets in time that does not depend on where they differ, nor on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = hash('sha256', a, 'buffer');
  const digestB = hash('sha256', b, 'buffer');
  return timingSafeEqual(digestA, digestB);
}

/** The credential a request carries: `Authorization: Bearer …` or `x-api-key: …`. */
export function credentialFrom(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  if (value) {
    const match = /^Bearer\s+(.+)$/i.exec(value.trim());
    if (match) return match[1]!.trim();
  }
  const apiKey = headers['x-api-key'];
  const key = Array.isArray(apiKey) ? apiKey[0] : apiKey;
  return key?.trim() || undefined;
}
