import { Candidate, candidateWeight } from './balancer.js';

/** A score as the round-robin balancer's map keeps it (see SmoothRoundRobinBalancer). */
export interface ScoreEntry {
  current: number;
  seenAt: number;
}

/**
 * Smooth weighted round-robin over one frozen candidate list, with the scores in typed arrays:
 * the same picks as the balancer's map-based pass, without a map lookup per candidate per pick.
 *
 * - Equal whole-number weights and scores (the common case: registries default to 1): every score grows by
 *   the same w on every pick, so only the picked one moves relative to the others. Scores are kept
 *   as `score − w × picks` in a binary heap ordered by (score, list order): a pick is O(log n).
 * - Otherwise: one pass over the weight and score arrays (about 1 ns per candidate).
 *
 * An id listed twice counts once, at its first position, as in the map-based pass.
 */
export class RotationArrays {
  private picks = 0;

  private constructor(
    /** Distinct ids, in list order. */
    private readonly ids: string[],
    /** List position of each slot (its first occurrence). */
    private readonly positions: Int32Array,
    private readonly weights: Float64Array,
    /** Scores: nginx's `current_weight`, or with `heap` that minus weight × picks. */
    private readonly scores: Float64Array,
    private readonly total: number,
    /** Slots as a max-heap on (score, −slot); undefined when the weights differ. */
    private readonly heap: Int32Array | undefined,
  ) {}

  /**
   * Takes over the scores `states` holds for the list's ids (0 for new ones) and forgets the
   * others there (a provider that left loses its score). `uniform`: every weight counts as 1.
   */
  static adopt(candidates: readonly Candidate[], states: Map<string, ScoreEntry>, uniform: boolean): RotationArrays {
    const slots = new Map<string, number>();
    const ids: string[] = [];
    const positions: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const id = candidates[i].instance.id;
      if (slots.has(id)) continue;
      slots.set(id, ids.length);
      ids.push(id);
      positions.push(i);
      weights.push(uniform ? 1 : candidateWeight(candidates[i]));
    }
    const n = ids.length;
    const scores = new Float64Array(n);
    let total = 0;
    // Whole numbers throughout keep the heap's shifted scores exact, so its picks are the pass's.
    let heapable = Number.isInteger(weights[0]);
    for (let s = 0; s < n; s++) {
      scores[s] = states.get(ids[s])?.current ?? 0;
      total += weights[s];
      if (weights[s] !== weights[0] || !Number.isInteger(scores[s])) heapable = false;
    }
    for (const id of states.keys()) if (!slots.has(id)) states.delete(id);
    const heap = heapable ? new Int32Array(n) : undefined;
    const arrays = new RotationArrays(ids, Int32Array.from(positions), Float64Array.from(weights), scores, total, heap);
    if (heap) arrays.buildHeap();
    return arrays;
  }

  /** The list position of the next pick. */
  next(): number {
    this.picks++;
    const heap = this.heap;
    if (heap !== undefined) {
      const top = heap[0];
      this.scores[top] -= this.total;
      this.siftDown(0);
      return this.positions[top];
    }
    const weights = this.weights;
    const scores = this.scores;
    let best = -1;
    let bestScore = 0;
    for (let s = 0; s < scores.length; s++) {
      const score = scores[s] + weights[s];
      scores[s] = score;
      if (best < 0 || score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    scores[best] -= this.total;
    return this.positions[best];
  }

  /** Writes the scores back as the map-based pass keeps them. */
  writeBack(states: Map<string, ScoreEntry>): void {
    const offset = this.heap !== undefined ? this.weights[0] * this.picks : 0;
    for (let s = 0; s < this.ids.length; s++) {
      const current = this.scores[s] + offset;
      const entry = states.get(this.ids[s]);
      if (entry) entry.current = current;
      else states.set(this.ids[s], { current, seenAt: 0 });
    }
  }

  /** Slot a goes before slot b: a higher score, or the same score and earlier in the list. */
  private before(a: number, b: number): boolean {
    const sa = this.scores[a];
    const sb = this.scores[b];
    return sa > sb || (sa === sb && a < b);
  }

  private buildHeap(): void {
    const heap = this.heap!;
    for (let i = 0; i < heap.length; i++) heap[i] = i;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(from: number): void {
    const heap = this.heap!;
    const n = heap.length;
    let i = from;
    const slot = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(heap[child + 1], heap[child])) child++;
      if (!this.before(heap[child], slot)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = slot;
  }
}
