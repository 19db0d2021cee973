import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomId, uniqueId } from './random-id.js';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomId', () => {
  it('makes version 4 UUIDs, all different, across many refills of its random pool', () => {
    const ids = Array.from({ length: 5_000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(uuidV4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('spreads its hex digits evenly over the random positions', () => {
    const counts = new Map<string, number>();
    for (let round = 0; round < 2_000; round++) {
      // The first 8 characters carry no fixed bits.
      for (const digit of randomId().slice(0, 8)) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    }
    expect(counts.size).toBe(16);
    // 16,000 digits, 1,000 expected each; a fair source is within ±15 % with overwhelming probability.
    for (const count of counts.values()) expect(Math.abs(count - 1_000)).toBeLessThan(150);
  });

  it('puts an ASCII prefix in front, and refuses one it cannot write', () => {
    const id = randomId('chatcmpl-');
    expect(id.startsWith('chatcmpl-')).toBe(true);
    expect(id.slice('chatcmpl-'.length)).toMatch(uuidV4);
    expect(randomId('x'.repeat(64))).toHaveLength(100);
    expect(() => randomId('x'.repeat(65))).toThrow(RangeError);
    expect(() => randomId('é-')).toThrow(RangeError);
  });
});

describe('uniqueId', () => {
  it('never repeats in a process: one random UUID for the process, then a counter', () => {
    const ids = Array.from({ length: 10_000 }, () => uniqueId());
    expect(new Set(ids).size).toBe(ids.length);
    const processPart = ids[0]!.slice(0, 37);
    expect(processPart.slice(0, 36)).toMatch(uuidV4);
    for (const id of ids) expect(id.startsWith(processPart)).toBe(true);
  });

  it('differs between processes', () => {
    const moduleUrl = new URL('./random-id.ts', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then((m) => console.log(m.uniqueId()))`;
    const run = () => execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
    const [first, second] = [run(), run()];
    expect(first).not.toBe(second);
    expect(first.slice(0, 36)).toMatch(uuidV4);
  });
});
