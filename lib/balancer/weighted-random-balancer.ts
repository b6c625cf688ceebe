import { Balancer, Candidate, candidateWeight, isStableList } from './balancer.js';
import { pickByWeight, uniformIndex, WeightTable } from './weight-table.js';

export { pickByWeight, uniformIndex } from './weight-table.js';

/**
 * Weighted random (Dubbo's and the seed's default): each candidate is picked with a
 * probability proportional to its weight; equal weights skip the running sum. When every weight
 * is 0 (the directory normally filters those out) the pick is uniform rather than nothing.
 *
 * For a frozen list (the router's, see Balancer) the weights are summed once per list: a pick is
 * O(1) with equal weights and a binary search otherwise. Any other list is summed on every pick.
 */
export class WeightedRandomBalancer implements Balancer {
  readonly name = 'random';
  private list: readonly Candidate[] | undefined;
  private table: WeightTable | undefined;

  /** @param random uniform in [0, 1), injectable for deterministic tests */
  constructor(private readonly random: () => number = Math.random) {}

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const table = this.tableFor(candidates);
    if (table) return candidates[table.index(this.random(), n)];
    let total = 0;
    let same = true;
    const first = candidateWeight(candidates[0]);
    for (let i = 0; i < n; i++) {
      const weight = candidateWeight(candidates[i]);
      total += weight;
      if (weight !== first) same = false;
    }
    if (same || total <= 0) return candidates[uniformIndex(this.random(), n)];
    return pickByWeight(candidates, this.random() * total);
  }

  /** The weights of a frozen list, summed the first time it is seen; undefined for any other list. */
  private tableFor(candidates: readonly Candidate[]): WeightTable | undefined {
    if (candidates === this.list) return this.table;
    if (!isStableList(candidates)) return undefined;
    this.list = candidates;
    this.table = new WeightTable(candidates);
    return this.table;
  }
}
