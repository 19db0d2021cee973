import { describe, expect, it } from 'vitest';
import { constantTimeEqual, credentialFrom, displayPrefix, generateKey, hashKey, isVirtualKeyFormat } from './keys.js';

describe('virtual key secrets', () => {
  it('are sk-sy- and 32 random bytes, different every time', () => {
    const keys = new Set(Array.from({ length: 100 }, generateKey));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(isVirtualKeyFormat(key)).toBe(true);
      expect(Buffer.from(key.slice(6), 'base64url')).toHaveLength(32);
    }
  });

  it('are stored as a SHA-256 hash and shown by a short prefix', () => {
    const key = generateKey();
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(key)).toBe(hashKey(key));
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });

  it('are compared whatever their lengths', () => {
    expect(constantTimeEqual('master', 'master')).toBe(true);
    expect(constantTimeEqual('master', 'masters')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });

  it('are read from Authorization: Bearer or x-api-key', () => {
    expect(credentialFrom({ authorization: 'Bearer sk-sy-abc' })).toBe('sk-sy-abc');
    expect(credentialFrom({ authorization: 'bearer   sk-sy-abc  ' })).toBe('sk-sy-abc');
    expect(credentialFrom({ 'x-api-key': 'sk-sy-def' })).toBe('sk-sy-def');
    expect(credentialFrom({ authorization: 'Basic Zm9vOmJhcg==', 'x-api-key': 'sk-sy-def' })).toBe('sk-sy-def');
    expect(credentialFrom({})).toBeUndefined();
    expect(isVirtualKeyFormat('sk-sy-short')).toBe(false);
    expect(isVirtualKeyFormat(`sk-sy-${'a'.repeat(42)}!`)).toBe(false);
  });
});
