/** How often a key's budget starts over. `none`: the budget is for the key's whole life. */
export type BudgetPeriod = 'none' | 'daily' | 'weekly' | 'monthly';

export const budgetPeriods = ['none', 'daily', 'weekly', 'monthly'] as const;

const day = 86_400_000;

/**
 * When the period that contains `now` ends, in UTC: midnight for daily budgets, Monday midnight for
 * weekly ones, the first of the next month for monthly ones. Calendar boundaries rather than "30 days
 * from creation", so every key's month matches the invoice month.
 */
export function periodEnd(period: BudgetPeriod, now: number): number | null {
  const date = new Date(now);
  const midnight = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  switch (period) {
    case 'none':
      return null;
    case 'daily':
      return midnight + day;
    case 'weekly': {
      // getUTCDay: Sunday 0 … Saturday 6; days until the next Monday, 7 on a Monday itself.
      const daysToMonday = ((8 - date.getUTCDay()) % 7) || 7;
      return midnight + daysToMonday * day;
    }
    case 'monthly':
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  }
}

/** When the period that ends at `end` started: the inverse of `periodEnd` for reports. */
export function periodStart(period: BudgetPeriod, end: number): number | null {
  const date = new Date(end);
  switch (period) {
    case 'none':
      return null;
    case 'daily':
      return end - day;
    case 'weekly':
      return end - 7 * day;
    case 'monthly':
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1);
  }
}

/** The largest time a Date holds, either side of 1970. */
const maximumTime = 8.64e15;
/** The last whole second `isoTimestamp` formatted, and its text up to the milliseconds. */
let cachedSecond = Number.NaN;
let cachedSecondText = '';

/**
 * `new Date(ms).toISOString()`, for the ledger's `created_at` on every request. V8 formats a date through
 * `snprintf` and a string stream, about 10,000 instructions a call (more than the rest of a request's
 * billing arithmetic together); requests arriving within the same second share all but the milliseconds,
 * so that part is formatted once a second and the milliseconds are appended.
 */
export function isoTimestamp(ms: number): string {
  // What Date does with its argument: fractions are cut toward zero (-0 becomes 0).
  const time = Math.trunc(ms) + 0;
  // Out of Date's range (or NaN): the RangeError toISOString throws.
  if (!(time >= -maximumTime && time <= maximumTime)) return new Date(ms).toISOString();
  const second = Math.floor(time / 1000);
  if (second !== cachedSecond) {
    const text = new Date(second * 1000).toISOString();
    cachedSecond = second;
    cachedSecondText = text.slice(0, text.length - 4);
  }
  const milliseconds = time - second * 1000;
  return `${cachedSecondText}${milliseconds < 10 ? '00' : milliseconds < 100 ? '0' : ''}${milliseconds}Z`;
}
