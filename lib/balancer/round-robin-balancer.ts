import { Balancer, Candidate, candidateWeight, isStableList } from './balancer.js';
import { RotationArrays } from './rotation-arrays.js';

interface RotationState {
  /** nginx's `current_weight`. */
  current: number;
  /** The pick that last saw this instance, to find the ones that left. */
  seenAt: number;
}

/**
 * Smooth weighted round-robin (nginx's upstream algorithm, Dubbo's `roundrobin`): every pick adds
 * each candidate's weight to its running score, takes the highest score (first one on ties) and
 * subtracts the total weight from it. Over any window of `sum(weights)` picks each candidate gets
 * exactly its weight, interleaved rather than in bursts: {a:5, b:1, c:1} gives a a b a c a a.
 *
 * State is one score per instance id. A provider that leaves the candidate list loses its score
 * (it restarts from 0 if it comes back, as in nginx after an upstream change); the sweep runs only
 * when the state holds more ids than the current list, so a steady list costs no extra work.
 * When every weight is 0 all candidates count as weight 1 (plain round-robin).
 *
 * A frozen list (the router's, see Balancer) moves the scores into arrays for as long as it is
 * handed in again ({@link RotationArrays}): a pick is then O(log n) with equal whole-number weights
 * and one pass over two typed arrays otherwise, with exactly the picks of the algorithm above.
 */
export class SmoothRoundRobinBalancer implements Balancer {
  readonly name = 'round-robin';
  private readonly states = new Map<string, RotationState>();
  private picks = 0;
  /** The frozen list whose scores live in `arrays` (the map's entries are stale meanwhile). */
  private list: readonly Candidate[] | undefined;
  private arrays: RotationArrays | undefined;

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) {
      // Nothing to rotate; a provider joining later starts everyone from 0 again.
      this.list = undefined;
      this.arrays = undefined;
      if (this.states.size > 0) this.states.clear();
      return candidates[0];
    }
    if (candidates === this.list) return candidates[this.arrays!.next()];
    this.settle();
    if (isStableList(candidates)) {
      this.arrays = RotationArrays.adopt(candidates, this.states, uniformOf(candidates));
      this.list = candidates;
      return candidates[this.arrays.next()];
    }
    return this.pickFromMap(candidates);
  }

  /** Ids with rotation state (for tests and diagnostics). */
  get trackedIds(): string[] {
    this.settle();
    return [...this.states.keys()];
  }

  /** Hands the scores kept in arrays back to the map, which is then current again. */
  private settle(): void {
    if (this.arrays === undefined) return;
    this.arrays.writeBack(this.states);
    this.list = undefined;
    this.arrays = undefined;
  }

  private pickFromMap<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    const pickNo = ++this.picks;
    const uniform = uniformOf(candidates);
    let total = 0;
    let distinct = 0;
    let best: C | undefined;
    let bestState: RotationState | undefined;
    for (let i = 0; i < n; i++) {
      const c = candidates[i];
      const id = c.instance.id;
      let state = this.states.get(id);
      if (state === undefined) {
        state = { current: 0, seenAt: pickNo };
        this.states.set(id, state);
      } else if (state.seenAt === pickNo) {
        continue; // the same id listed twice counts once, or the scores would drift
      }
      state.seenAt = pickNo;
      distinct++;
      const weight = uniform ? 1 : candidateWeight(c);
      total += weight;
      state.current += weight;
      if (bestState === undefined || state.current > bestState.current) {
        best = c;
        bestState = state;
      }
    }
    bestState!.current -= total;
    if (this.states.size > distinct) this.sweep(pickNo);
    return best;
  }

  private sweep(pickNo: number): void {
    for (const [id, state] of this.states) if (state.seenAt !== pickNo) this.states.delete(id);
  }
}

/** Every weight 0: everyone counts as 1. */
function uniformOf(candidates: readonly Candidate[]): boolean {
  for (let i = 0; i < candidates.length; i++) if (candidateWeight(candidates[i]) > 0) return false;
  return true;
}
