import { checkInteger } from '../common/option-checks.js';
import { Balancer, Candidate, candidateWeight, isStableList, PickContext } from './balancer.js';
import { ringHash } from './hash.js';
import { HashRing } from './hash-ring.js';
import { WeightedRandomBalancer } from './weighted-random-balancer.js';

// Module-scope aliases for the per-call path (global lookups are slow in jest's vm contexts).
const max = Math.max;
const round = Math.round;

/** Upper bound of `virtualNodes`: the ring holds about this many points per provider. */
export const MAX_VIRTUAL_NODES = 10_000;

/** @see ConsistentHashBalancer */
export interface ConsistentHashInit {
  /** Points per provider of average weight (Dubbo: 160). */
  virtualNodes?: number;
  /** For the fallback when a call has no hash key. */
  random?: () => number;
}

/**
 * Consistent hash on `context.hashKey` (Dubbo's `consistenthash`, ketama-style ring): calls with
 * the same key go to the same provider while the provider set holds, which keeps per-key caches
 * and ordering on one provider. A call without a key falls back to weighted random.
 *
 * Weights scale the points: provider i gets round(virtualNodes × wᵢ / mean(w)) points (at least
 * 1 when wᵢ > 0, none when 0), so its key share follows its weight as with the other balancers,
 * and the ring stays ≈ virtualNodes × n points whatever the weight scale (1 or 100). With equal
 * weights that is exactly `virtualNodes` each, i.e. Dubbo's ring, and adding or removing a provider
 * moves only the keys it gains or held (≈ 1/(n+1) of them). Unequal weights also rescale the
 * others' counts a little when the mean changes, moving a few more keys; a warming-up provider
 * (see WarmupBalancer) thereby takes its keys over gradually.
 *
 * The ring is rebuilt only when the candidate ids (in order) or their point counts change, and
 * then from the previous ring: only the points of members that joined or changed count are hashed
 * (see HashRing.rebuilt). A frozen list seen again (the router's, see Balancer) goes straight to
 * the binary search over the points; any other list costs one pass comparing ids and weights with
 * the last one first (no allocation). Measured on Node 20 with 1,000 providers: 7 µs per pick
 * with that pass; the lookup alone is 0.15 → 0.25 µs for 1.6 k → 160 k points.
 */
export class ConsistentHashBalancer implements Balancer {
  readonly name = 'consistent-hash';
  private readonly virtualNodes: number;
  private readonly fallback: WeightedRandomBalancer;
  private ring: HashRing | undefined;
  private ringIds: string[] = [];
  private ringCounts: number[] = [];
  /** Weights the counts were last computed from. */
  private ringWeights: number[] = [];
  private builds = 0;
  /** The frozen list the ring was last checked against. */
  private stableList: readonly Candidate[] | undefined;

  constructor(init: ConsistentHashInit = {}) {
    this.virtualNodes = checkInteger('virtualNodes', init.virtualNodes ?? 160, 1, MAX_VIRTUAL_NODES);
    this.fallback = new WeightedRandomBalancer(init.random);
  }

  pick<C extends Candidate>(candidates: readonly C[], context?: PickContext): C | undefined {
    const key = context?.hashKey;
    if (key === undefined || candidates.length <= 1) return this.fallback.pick(candidates);
    const ring = this.ringFor(candidates);
    return candidates[ring.ownerOf(ringHash(key))];
  }

  /** Times the ring was (re)built: for tests and diagnostics. */
  get ringBuilds(): number {
    return this.builds;
  }

  /** Points on the current ring (0 before the first keyed pick). */
  get ringSize(): number {
    return this.ring?.size ?? 0;
  }

  private ringFor(candidates: readonly Candidate[]): HashRing {
    if (candidates === this.stableList) return this.ring!;
    const ring = this.checkedRing(candidates);
    this.stableList = isStableList(candidates) ? candidates : undefined;
    return ring;
  }

  private checkedRing(candidates: readonly Candidate[]): HashRing {
    const n = candidates.length;
    const ringIds = this.ringIds;
    const ringWeights = this.ringWeights;
    let sameIds = this.ring !== undefined && ringIds.length === n;
    let sameWeights = sameIds;
    for (let i = 0; i < n && sameIds; i++) {
      const c = candidates[i];
      sameIds = ringIds[i] === c.instance.id;
      if (sameWeights && ringWeights[i] !== candidateWeight(c)) sameWeights = false;
    }
    // The steady state: one pass comparing ids and weights, no arithmetic.
    if (sameIds && sameWeights) return this.ring!;

    let total = 0;
    for (let i = 0; i < n; i++) total += candidateWeight(candidates[i]);
    const scale = total > 0 ? (this.virtualNodes * n) / total : 0;
    const weights = new Array<number>(n);
    const counts = new Array<number>(n);
    let sameCounts = sameIds;
    for (let i = 0; i < n; i++) {
      weights[i] = candidateWeight(candidates[i]);
      counts[i] = this.pointCount(weights[i], scale);
      if (sameCounts && counts[i] !== this.ringCounts[i]) sameCounts = false;
    }
    this.ringWeights = weights;
    // Weights moved (warm-up ramps them continuously) but not enough to change a point count.
    if (sameCounts) return this.ring!;
    const ids = new Array<string>(n);
    for (let i = 0; i < n; i++) ids[i] = candidates[i].instance.id;
    this.ring = this.ring ? this.ring.rebuilt(ids, counts) : new HashRing(ids, counts);
    this.ringIds = ids;
    this.ringCounts = counts;
    this.builds++;
    return this.ring;
  }

  /** `scale` 0 means every weight is 0: then all count as equal. */
  private pointCount(weight: number, scale: number): number {
    if (scale === 0) return this.virtualNodes;
    return weight > 0 ? max(1, round(weight * scale)) : 0;
  }
}
