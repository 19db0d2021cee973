import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createToolCallId, decodeThoughtSignature, encodeToolCallId } from './gemini-tool-call-id.js';

describe('tool call ids carrying thought signatures', () => {
  it('round-trips base64 signatures of every padding length within the id alphabet', () => {
    for (let length = 1; length <= 40; length++) {
      const signature = randomBytes(length).toString('base64');
      const id = encodeToolCallId('call_abc', signature);
      expect(id).toMatch(/^call_abc__thought__[A-Za-z0-9_-]+$/);
      expect(decodeThoughtSignature(id)).toBe(signature);
    }
  });

  it('carries a signature that is not canonical base64 exactly as received', () => {
    for (const signature of ['skip_thought_signature_validator', 'abc==', 'a+b', 'with __thought__ inside']) {
      const id = encodeToolCallId('call_x', signature);
      expect(id).toMatch(/^call_x__thoughtraw__[A-Za-z0-9_-]+$/);
      expect(decodeThoughtSignature(id)).toBe(signature);
    }
  });

  it('leaves ids without a signature alone and finds none in foreign ids', () => {
    expect(encodeToolCallId('call_1', undefined)).toBe('call_1');
    expect(encodeToolCallId('call_1', '')).toBe('call_1');
    expect(decodeThoughtSignature('call_1')).toBeUndefined();
    expect(decodeThoughtSignature('toolu_01A09q90qw90lq917835lq9')).toBeUndefined();
    expect(decodeThoughtSignature('call_1__thought__')).toBeUndefined();
  });

  it('makes distinct call_ ids', () => {
    const ids = new Set(Array.from({ length: 100 }, createToolCallId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9]{24}$/);
  });
});
