import { Balancer, Candidate } from './balancer.js';

/**
 * Weighted random (Dubbo's and the seed's default): each candidate is picked with a
 * probability proportional to its registry weight; equal weights skip the prefix sum.
 */
export class WeightedRandomBalancer implements Balancer {
  readonly name = 'random';

  constructor(private readonly random: () => number = Math.random) {}

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    let total = 0;
    let same = true;
    const first = candidates[0].instance.weight;
    for (const c of candidates) {
      total += c.instance.weight;
      if (c.instance.weight !== first) same = false;
    }
    if (same || total <= 0) return candidates[Math.floor(this.random() * n)];
    let point = this.random() * total;
    for (const c of candidates) {
      point -= c.instance.weight;
      if (point < 0) return c;
    }
    return candidates[n - 1];
  }
}
