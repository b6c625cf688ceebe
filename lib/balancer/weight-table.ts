import { Candidate, candidateWeight } from './balancer.js';

// Module-scope alias for the per-call path (global lookups are slow in jest's vm contexts).
const floor = Math.floor;

/**
 * The weights of one candidate list, summed once so that a weighted random pick is O(1) (equal
 * weights) or a binary search over the running sums (O(log n)) instead of a pass over the list.
 * Derived from a frozen list and kept while the balancer sees that list again (see Balancer).
 * Its picks are exactly those of {@link pickByWeight} over the same list and the same point.
 */
export class WeightTable {
  /** Sum of the weights (0: every weight is 0). */
  readonly total: number;
  /** Every weight equal, or all 0: picks are uniform. */
  readonly uniform: boolean;
  /** `sums[i]`: weights of candidates 0…i, accumulated in order (unused when uniform). */
  private readonly sums: Float64Array | undefined;
  /** The last candidate with a positive weight: where rounding that leaves the point unconsumed lands. */
  private readonly lastPositive: number;

  constructor(candidates: readonly Candidate[]) {
    const n = candidates.length;
    const first = n > 0 ? candidateWeight(candidates[0]) : 0;
    const sums = new Float64Array(n);
    let total = 0;
    let same = true;
    let lastPositive = n - 1;
    for (let i = 0; i < n; i++) {
      const weight = candidateWeight(candidates[i]);
      total += weight;
      sums[i] = total;
      if (weight !== first) same = false;
      if (weight > 0) lastPositive = i;
    }
    this.total = total;
    this.uniform = same || total <= 0;
    this.sums = this.uniform ? undefined : sums;
    this.lastPositive = lastPositive;
  }

  /** The index a uniform `random` in [0, 1) picks, by weight. */
  index(random: number, n: number): number {
    const sums = this.sums;
    if (sums === undefined) return uniformIndex(random, n);
    const point = random * this.total;
    // The first running sum above the point; a weight-0 candidate never adds to it, so is never it.
    let lo = 0;
    let hi = sums.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sums[mid] > point) hi = mid;
      else lo = mid + 1;
    }
    return lo < sums.length ? lo : this.lastPositive;
  }
}

/** floor(r × n), clamped so an injected random returning exactly 1 cannot index past the end. */
export function uniformIndex(r: number, n: number): number {
  const i = floor(r * n);
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/**
 * Walks the running sum of weights to `point` in [0, total). Rounding can leave `point` beyond
 * the last sum: then the last candidate with a positive weight wins, never a weight-0 one.
 */
export function pickByWeight<C extends Candidate>(candidates: readonly C[], point: number): C {
  let last = candidates[candidates.length - 1];
  let sum = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const weight = candidateWeight(c);
    if (weight <= 0) continue;
    last = c;
    sum += weight;
    if (sum > point) return c;
  }
  return last;
}
