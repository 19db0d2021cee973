import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTimestamp, periodEnd, periodStart } from './periods.js';

const at = (iso: string) => Date.parse(iso);

describe('budget periods', () => {
  it('end at the next UTC midnight, Monday and first of the month', () => {
    // Wednesday 2026-01-14, late in the day.
    const now = at('2026-01-14T23:59:59.999Z');
    expect(new Date(periodEnd('daily', now)!).toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(new Date(periodEnd('weekly', now)!).toISOString()).toBe('2026-01-19T00:00:00.000Z');
    expect(new Date(periodEnd('monthly', now)!).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect(periodEnd('none', now)).toBeNull();
  });

  it('start a new period exactly at the boundary', () => {
    expect(new Date(periodEnd('daily', at('2026-01-15T00:00:00.000Z'))!).toISOString()).toBe('2026-01-16T00:00:00.000Z');
    // A Monday at midnight belongs to the week that starts then.
    expect(new Date(periodEnd('weekly', at('2026-01-19T00:00:00.000Z'))!).toISOString()).toBe('2026-01-26T00:00:00.000Z');
    // A Sunday ends its week the next day.
    expect(new Date(periodEnd('weekly', at('2026-01-18T12:00:00.000Z'))!).toISOString()).toBe('2026-01-19T00:00:00.000Z');
    // December rolls into January of the next year.
    expect(new Date(periodEnd('monthly', at('2026-12-31T10:00:00.000Z'))!).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('find the start of a period from its end, the inverse of periodEnd', () => {
    for (const period of ['daily', 'weekly', 'monthly'] as const) {
      const now = at('2026-03-10T08:00:00.000Z');
      const end = periodEnd(period, now)!;
      const start = periodStart(period, end)!;
      expect(start).toBeLessThanOrEqual(now);
      expect(periodEnd(period, start)).toBe(end);
    }
  });
});

describe('isoTimestamp', () => {
  it('is toISOString for any time Date accepts, in any order (the second it caches changes under it)', () => {
    const limit = 8.64e15;
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -limit, max: limit }), fc.double({ min: -limit, max: limit, noNaN: true }), fc.integer({ min: 1_700_000_000_000, max: 1_700_000_003_000 })), { minLength: 1, maxLength: 20 }), (times) => {
        for (const time of times) expect(isoTimestamp(time)).toBe(new Date(time).toISOString());
      }),
      { numRuns: 2_000 },
    );
    for (const time of [0, -0, -1, -1.5, 999.9, 1_000, -limit, limit, Date.parse('0000-01-01T00:00:00.000Z'), Date.parse('+010000-01-01T00:00:00.000Z')]) {
      expect(isoTimestamp(time)).toBe(new Date(time).toISOString());
    }
  });

  it('throws as toISOString does outside Date\'s range', () => {
    for (const time of [Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1]) expect(() => isoTimestamp(time)).toThrow(RangeError);
  });
});
