import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exactCacheKey, stableStringify } from './cache-key.js';

/** The same object with its keys inserted in reverse order, all the way down. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).reverse().map(([key, item]) => [key, reversed(item)]));
}

/**
 * What stableStringify must produce: keys in `Array.prototype.sort` order (UTF-16 code units), except
 * that integer-like keys come first in numeric order, as every JavaScript object keeps them.
 */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : sortedJson(item))).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.keys(Object.fromEntries(Object.keys(value).sort().map((key) => [key, 0])))
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined);
  return `{${entries.map((key) => `${JSON.stringify(key)}:${sortedJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
}

describe('stableStringify', () => {
  it('is JSON that parses back to the value, whatever order the keys came in', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = stableStringify(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(stableStringify(reversed(value))).toBe(text);
        expect(text).toBe(sortedJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a parsed __proto__ field as the field it is', () => {
    const parsed = JSON.parse('{"b":1,"__proto__":{"x":1}}') as unknown;
    expect(stableStringify(parsed)).toBe('{"__proto__":{"x":1},"b":1}');
    expect(stableStringify(parsed)).not.toBe(stableStringify(JSON.parse('{"b":1,"__proto__":{"x":2}}')));
  });

  it('leaves out undefined fields, as JSON does', () => {
    expect(stableStringify({ b: 1, a: undefined, c: [1, { z: 2, y: undefined }] })).toBe('{"b":1,"c":[1,{"z":2}]}');
  });
});

describe('exactCacheKey', () => {
  const request = { model: 'fast', messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0 };
  it('ignores delivery and caller fields, and keys on everything else', () => {
    const key = exactCacheKey('key:1', request, 'openai/gpt-4o-mini');
    expect(exactCacheKey('key:1', { ...request, stream: true, user: 'u', metadata: { a: '1' } }, 'openai/gpt-4o-mini')).toBe(key);
    expect(exactCacheKey('key:2', request, 'openai/gpt-4o-mini')).not.toBe(key);
    expect(exactCacheKey('key:1', { ...request, temperature: 1 }, 'openai/gpt-4o-mini')).not.toBe(key);
    expect(exactCacheKey('key:1', { ...request, unknown_parameter: 1 } as typeof request, 'openai/gpt-4o-mini')).not.toBe(key);
  });
});
