import { ringHash } from './hash.js';

/** Owners are packed below the point in one float64 sort key: 32 + 20 bits < 2^53. */
const MAX_MEMBERS = 1 << 20;
const OWNER_SCALE = MAX_MEMBERS;

/**
 * An immutable ketama-style ring: member `i` owns `counts[i]` points at `ringHash(`${id}#${j}`)`,
 * j = 0 … counts[i]-1, and a key belongs to the first point clockwise from its hash.
 *
 * Points depend only on (id, j), so the ring is the same whatever the member order, and changing
 * a member's count adds or removes only its own tail points: keys move only to or from it. Equal
 * points (a 32-bit collision) are ordered by id, again independent of member order.
 */
export class HashRing {
  /** Sorted point hashes. */
  private readonly points: Uint32Array;
  /** `owners[k]` is the member index (position in the build list) of `points[k]`. */
  private readonly owners: Uint32Array;

  constructor(ids: readonly string[], counts: readonly number[]) {
    const n = ids.length;
    if (n > MAX_MEMBERS) throw new RangeError(`a hash ring holds at most ${MAX_MEMBERS} members, got ${n}`);
    // Rank by id so that collisions sort the same way whatever order the members came in.
    const byId = Array.from(ids.keys()).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
    let total = 0;
    for (let i = 0; i < n; i++) total += counts[i];
    const keys = new Float64Array(total);
    let k = 0;
    for (let rank = 0; rank < n; rank++) {
      const member = byId[rank];
      const prefix = `${ids[member]}#`;
      for (let j = 0; j < counts[member]; j++) keys[k++] = ringHash(prefix + j) * OWNER_SCALE + rank;
    }
    keys.sort();
    this.points = new Uint32Array(total);
    this.owners = new Uint32Array(total);
    for (let p = 0; p < total; p++) {
      const rank = keys[p] % OWNER_SCALE;
      this.points[p] = (keys[p] - rank) / OWNER_SCALE;
      this.owners[p] = byId[rank];
    }
  }

  /** Number of points (virtual nodes) on the ring. */
  get size(): number {
    return this.points.length;
  }

  /** Member index owning `hash` (binary search, O(log size)), or -1 for an empty ring. */
  ownerOf(hash: number): number {
    const points = this.points;
    const size = points.length;
    if (size === 0) return -1;
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === size ? 0 : lo];
  }
}
