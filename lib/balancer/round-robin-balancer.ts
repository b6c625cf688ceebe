import { Balancer, Candidate, candidateWeight } from './balancer.js';

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
 */
export class SmoothRoundRobinBalancer implements Balancer {
  readonly name = 'round-robin';
  private readonly states = new Map<string, RotationState>();
  private picks = 0;

  pick<C extends Candidate>(candidates: readonly C[]): C | undefined {
    const n = candidates.length;
    if (n <= 1) {
      // Nothing to rotate; a provider joining later starts everyone from 0 again.
      if (this.states.size > 0) this.states.clear();
      return candidates[0];
    }
    const pickNo = ++this.picks;
    let uniform = true;
    for (let i = 0; i < n && uniform; i++) if (candidateWeight(candidates[i]) > 0) uniform = false;

    let total = 0;
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
      const weight = uniform ? 1 : candidateWeight(c);
      total += weight;
      state.current += weight;
      if (bestState === undefined || state.current > bestState.current) {
        best = c;
        bestState = state;
      }
    }
    bestState!.current -= total;
    if (this.states.size > n) this.sweep(pickNo);
    return best;
  }

  /** Ids with rotation state (for tests and diagnostics). */
  get trackedIds(): string[] {
    return [...this.states.keys()];
  }

  private sweep(pickNo: number): void {
    for (const [id, state] of this.states) if (state.seenAt !== pickNo) this.states.delete(id);
  }

  private forgetAllBut(id: string): void {
    for (const key of this.states.keys()) if (key !== id) this.states.delete(key);
  }
}
