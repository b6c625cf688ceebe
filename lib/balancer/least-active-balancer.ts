import { Balancer, Candidate, candidateWeight } from './balancer.js';
import { uniformIndex } from './weight-table.js';
import { WeightedRandomBalancer } from './weighted-random-balancer.js';

/**
 * Up to this many candidates, the pick scans them all (Dubbo's exact rule); above, it compares two
 * (power of two choices): a scan reads every candidate's live in-flight count, about 3 ns each,
 * so a thousand providers would cost microseconds per call.
 */
export const LEAST_ACTIVE_SCAN_LIMIT = 64;

/**
 * Least active (Dubbo's `leastactive`): the candidate with the fewest calls in flight, so a slow
 * or stalled provider, whose calls pile up, gets fewer new ones. Ties, including the all-idle
 * start, are broken by weighted random among the tied (uniform when their weights are equal or
 * all 0). Two passes over the list, no allocation.
 *
 * Among more than {@link LEAST_ACTIVE_SCAN_LIMIT} candidates it takes the less busy of two picked
 * by weighted random (the first on a tie): the "power of two choices" of Envoy's least_request
 * and Finagle, which keeps the busiest provider's load within a small factor of the least one's
 * (Mitzenmacher) at the cost of two picks, O(1) or O(log n) on the router's frozen lists.
 */
export class LeastActiveBalancer implements Balancer {
  readonly name = 'least-active';
  private readonly sampler: WeightedRandomBalancer;

  /** @param random uniform in [0, 1), injectable for deterministic tests */
  constructor(private readonly random: () => number = Math.random) {
    this.sampler = new WeightedRandomBalancer(random);
  }

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    if (n > LEAST_ACTIVE_SCAN_LIMIT) {
      const a = this.sampler.pick(candidates)!;
      const b = this.sampler.pick(candidates)!;
      return activeOf(b) < activeOf(a) ? b : a;
    }
    let least = activeOf(candidates[0]);
    let firstTied = 0;
    let tied = 1;
    let firstWeight = candidateWeight(candidates[0]);
    let tiedTotal = firstWeight;
    let sameWeight = true;
    for (let i = 1; i < n; i++) {
      const active = activeOf(candidates[i]);
      if (active > least) continue;
      const weight = candidateWeight(candidates[i]);
      if (active < least) {
        least = active;
        firstTied = i;
        tied = 1;
        firstWeight = weight;
        tiedTotal = weight;
        sameWeight = true;
      } else {
        tied++;
        tiedTotal += weight;
        if (weight !== firstWeight) sameWeight = false;
      }
    }
    if (tied === 1) return candidates[firstTied];

    const uniform = sameWeight || tiedTotal <= 0;
    // The k-th tied candidate (uniform), or the one whose weight interval holds the point.
    let point = uniform ? uniformIndex(this.random(), tied) : this.random() * tiedTotal;
    let last = candidates[firstTied];
    for (let i = firstTied; i < n; i++) {
      const c = candidates[i];
      if (activeOf(c) !== least) continue;
      const weight = uniform ? 1 : candidateWeight(c);
      if (weight <= 0) continue;
      last = c;
      point -= weight;
      if (point < 0) return c;
    }
    return last; // rounding left part of the point unconsumed
  }
}

/** In-flight count as a comparable number: garbage (negative, NaN) reads as idle. */
function activeOf(candidate: Candidate): number {
  const active = candidate.inFlight;
  return active > 0 ? active : 0;
}
