import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSameJson } from './same-json.js';

/** JSON text with keys sorted at every level: equal exactly when the values are the same JSON. */
function canonicalText(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(inner).sort()) sorted[key] = (inner as Record<string, unknown>)[key];
    return sorted;
  });
}

function hasOwnProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return true;
  return Object.values(value).some(hasOwnProtoKey);
}

describe('isSameJson', () => {
  it('ignores key order and undefined fields, nothing else', () => {
    expect(isSameJson({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(isSameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(isSameJson({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(isSameJson({ a: null }, { a: undefined })).toBe(false);
    expect(isSameJson({ a: null }, {})).toBe(false);
    expect(isSameJson({ a: 1 }, { a: '1' })).toBe(false);
    expect(isSameJson([1, 2], [2, 1])).toBe(false);
    expect(isSameJson([], {})).toBe(false);
    expect(isSameJson({}, [])).toBe(false);
    expect(isSameJson({ a: {} }, { a: { b: 1 } })).toBe(false);
    expect(isSameJson({ a: { b: 1 } }, { a: {} })).toBe(false);
    expect(isSameJson(JSON.parse('{"__proto__": 1}'), {})).toBe(false);
    expect(isSameJson(JSON.parse('{"__proto__": {}}'), {})).toBe(false);
    expect(isSameJson({ constructor: {}, toString: 'x' }, {})).toBe(false);
  });

  it('agrees with comparing key-sorted serialisations', () => {
    const value = fc.jsonValue({ maxDepth: 4 });
    fc.assert(
      fc.property(value, value, (left, right) => {
        const same = canonicalText(left) === canonicalText(right);
        // An own `__proto__` key is refused as different (the caller then serialises): never a false "same".
        if (hasOwnProtoKey(left)) expect(isSameJson(left, right) && !same).toBe(false);
        else expect(isSameJson(left, right)).toBe(same);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(value, (left) => {
        // A copy through the text, keys reversed: the same JSON by construction.
        const reversed = JSON.parse(JSON.stringify(left), (_key, inner: unknown) =>
          typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).reverse()) : inner,
        );
        expect(isSameJson(left, reversed)).toBe(!hasOwnProtoKey(left));
      }),
      { numRuns: 1000 },
    );
  });
});
