import type { Strategy } from './config.js';
import type { TargetHealth } from './target-health.js';

export interface Candidate {
  /** `provider/model` after resolution. */
  model: string;
  weight: number;
  health: TargetHealth;
  /** Price per million output tokens plus input tokens, when known: the `cost` strategy's key. */
  price?: number;
  params?: Record<string, unknown>;
}

/**
 * Orders a group's targets for one request: the first is tried first, the rest are its fallbacks.
 * Targets whose breaker is open go last (tried only when nothing healthy is left).
 */
export function orderCandidates(candidates: readonly Candidate[], strategy: Strategy, random: () => number = Math.random): Candidate[] {
  let ordered: Candidate[];
  switch (strategy) {
    case 'ordered':
      ordered = [...candidates];
      break;
    case 'weighted':
      ordered = weightedOrder(candidates, random);
      break;
    case 'least-busy':
      ordered = stableSort(candidates, (a, b) => a.health.inFlight - b.health.inFlight);
      break;
    case 'latency':
      // Unmeasured targets go first so every target gets measured.
      ordered = stableSort(candidates, (a, b) => (a.health.latencyMs ?? -1) - (b.health.latencyMs ?? -1));
      break;
    case 'cost':
      ordered = stableSort(candidates, (a, b) => (a.price ?? Number.POSITIVE_INFINITY) - (b.price ?? Number.POSITIVE_INFINITY));
      break;
  }
  const healthy = ordered.filter((candidate) => candidate.health.breaker.isAvailable());
  const unhealthy = ordered.filter((candidate) => !candidate.health.breaker.isAvailable());
  return [...healthy, ...unhealthy];
}

/** Weighted sampling without replacement: the first pick follows the weights, and so does each next one. */
function weightedOrder(candidates: readonly Candidate[], random: () => number): Candidate[] {
  const remaining = [...candidates];
  const ordered: Candidate[] = [];
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, candidate) => sum + candidate.weight, 0);
    let point = random() * total;
    let index = 0;
    for (; index < remaining.length - 1; index++) {
      point -= remaining[index]!.weight;
      if (point < 0) break;
    }
    ordered.push(remaining.splice(index, 1)[0]!);
  }
  return ordered;
}

function stableSort<T>(items: readonly T[], compare: (a: T, b: T) => number): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => compare(a.item, b.item) || a.index - b.index)
    .map(({ item }) => item);
}
