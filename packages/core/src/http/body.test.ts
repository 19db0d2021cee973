import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDepth } from './body.js';

/** The rule checkDepth implements, one character at a time: brackets outside strings, a backslash escapes the next character. */
function deepestNesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 92) index++;
      else if (code === 34) inString = false;
    } else if (code === 34) {
      inString = true;
    } else if (code === 123 || code === 91) {
      deepest = Math.max(deepest, ++depth);
    } else if (code === 125 || code === 93) {
      depth--;
    }
  }
  return deepest;
}

const refuses = (text: string, maxDepth: number) => {
  try {
    checkDepth(text, maxDepth);
    return false;
  } catch {
    return true;
  }
};

describe('checkDepth', () => {
  it('counts brackets outside strings only, with escaped quotes and backslash runs', () => {
    expect(refuses('[[[]]]', 2)).toBe(true);
    expect(refuses('[[[]]]', 3)).toBe(false);
    expect(refuses('["[[[[", "\\"[[[", "\\\\", [[]]]', 3)).toBe(false);
    expect(refuses('["\\\\", [[[]]]]', 3)).toBe(true);
    expect(refuses('["\\\\\\"[[[[", []]', 2)).toBe(false);
    expect(refuses('["unterminated [[[[[', 1)).toBe(false);
  });

  it('agrees with a character-by-character scan on arbitrary text', () => {
    const pieces = fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ',', ':', ' ', 'é');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 60 }), fc.integer({ min: 0, max: 8 }), (parts, maxDepth) => {
        const text = parts.join('');
        expect(refuses(text, maxDepth)).toBe(deepestNesting(text) > maxDepth);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees on real JSON with strings full of brackets', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), fc.integer({ min: 0, max: 6 }), (text, maxDepth) => {
        expect(refuses(text, maxDepth)).toBe(deepestNesting(text) > maxDepth);
      }),
      { numRuns: 1000 },
    );
  });
});
