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
