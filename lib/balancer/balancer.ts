import type { ServiceInstance } from '../registry/service-instance.js';

/** A provider eligible for a call, with what balancers may weigh. */
export interface Candidate {
  readonly instance: ServiceInstance;
  /** Calls currently in flight to this provider. */
  readonly inFlight: number;
  /**
   * Effective weight for this call when it differs from the registry's (warm-up sets it);
   * balancers read {@link candidateWeight}, never `instance.weight` directly.
   */
  readonly weight?: number;
}

/** What the caller knows about one call, for balancers that route by it. */
export interface PickContext {
  /** Affinity key (e.g. a user or order id): the consistent-hash balancer sends equal keys to one provider. */
  readonly hashKey?: string;
  /** The call's pattern, for custom balancers that route per method. */
  readonly pattern?: string;
}

/**
 * Picks one candidate per call. Pure over its input; holds at most its own rotation state
 * (keyed by instance id), so one instance serves one provider list: give each router its own.
 *
 * A frozen list (`Object.freeze`) is a promise from its caller: neither the array nor its
 * candidates' `instance` and `weight` change while anyone may pick from it (`inFlight` may; it is
 * read live). The router hands its balancer frozen lists, cached between changes, and a new one
 * whenever a provider comes, goes, or changes; the built-in balancers keep what they derive from
 * the frozen list they last saw (weight sums, the hash ring, rotation scores in arrays), so a pick
 * among a thousand providers costs O(1) or O(log n) instead of a pass over all of them. Any other
 * list is read afresh on every pick.
 */
export interface Balancer {
  readonly name: string;
  /** Returns one of `candidates` (the same object), or undefined when the list is empty. */
  pick<C extends Candidate>(candidates: readonly C[], context?: PickContext): C | undefined;
}

// A module constant rather than the global `Infinity`: balancers run per call, and where globals
// go through an interceptor (jest's vm contexts) each global lookup costs ~100×.
const MAX_WEIGHT = Number.MAX_VALUE;

/**
 * The weight a balancer uses: the effective weight if set, else the registry's. Anything that is
 * not a finite positive number counts as 0, so a bad registry value cannot poison the sums.
 */
export function candidateWeight(candidate: Candidate): number {
  const weight = candidate.weight ?? candidate.instance.weight;
  return weight > 0 && weight <= MAX_WEIGHT ? weight : 0;
}

/** Whether a balancer may keep what it derives from `candidates` while it sees the same array (see Balancer). */
export function isStableList(candidates: readonly Candidate[]): boolean {
  return Object.isFrozen(candidates);
}
