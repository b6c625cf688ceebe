import { Balancer, Candidate, candidateWeight } from './balancer.js';

// Module-scope alias for the per-call path (global lookups are slow in jest's vm contexts).
const floor = Math.floor;

/**
 * Weighted random (Dubbo's and the seed's default): each candidate is picked with a
 * probability proportional to its weight; equal weights skip the prefix sum. When every weight
 * is 0 (the directory normally filters those out) the pick is uniform rather than nothing.
 */
export class WeightedRandomBalancer implements Balancer {
  readonly name = 'random';

  /** @param random uniform in [0, 1), injectable for deterministic tests */
  constructor(private readonly random: () => number = Math.random) {}

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    let total = 0;
    let same = true;
    const first = candidateWeight(candidates[0]);
    for (let i = 0; i < n; i++) {
      const weight = candidateWeight(candidates[i]);
      total += weight;
      if (weight !== first) same = false;
    }
    if (same || total <= 0) return candidates[uniformIndex(this.random(), n)];
    return pickByWeight(candidates, total, this.random() * total);
  }
}

/** floor(r × n), clamped so an injected random returning exactly 1 cannot index past the end. */
export function uniformIndex(r: number, n: number): number {
  const i = floor(r * n);
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/**
 * Walks the prefix sum of weights to `point` in [0, total). Rounding can leave `point`
 * unconsumed: then the last candidate with a positive weight wins, never a weight-0 one.
 */
export function pickByWeight<C extends Candidate>(candidates: readonly C[], total: number, point: number): C {
  let last = candidates[candidates.length - 1];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const weight = candidateWeight(c);
    if (weight <= 0) continue;
    last = c;
    point -= weight;
    if (point < 0) return c;
  }
  return last;
}
