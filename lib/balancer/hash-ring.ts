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

  constructor(
    private readonly ids: readonly string[],
    private readonly counts: readonly number[],
    /** A ring of an earlier member list whose members' points are reused (see {@link rebuilt}). */
    previous?: HashRing,
  ) {
    const n = ids.length;
    if (n > MAX_MEMBERS) throw new RangeError(`a hash ring holds at most ${MAX_MEMBERS} members, got ${n}`);
    if (previous) {
      [this.points, this.owners] = HashRing.merged(previous, ids, counts);
      return;
    }
    const all = Array.from(ids.keys());
    [this.points, this.owners] = hashed(ids, counts, all);
  }

  /**
   * The ring of `ids`/`counts`, equal to `new HashRing(ids, counts)`, built from this one: the
   * points of members present in both with the same count are kept (a linear merge), only the
   * others are hashed and sorted. A push that replaces 50 of 1,000 providers hashes 8,000 points
   * instead of 160,000.
   */
  rebuilt(ids: readonly string[], counts: readonly number[]): HashRing {
    return new HashRing(ids, counts, this);
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

  /** The points of ids/counts: those `old` has for the same (id, count), merged with the rest hashed anew. */
  private static merged(old: HashRing, ids: readonly string[], counts: readonly number[]): [Uint32Array, Uint32Array] {
    const oldIndex = new Map<string, number>();
    for (let i = 0; i < old.ids.length; i++) if (!oldIndex.has(old.ids[i])) oldIndex.set(old.ids[i], i);
    // For each old member: its index in the new list when its points carry over, else -1.
    const carried = new Int32Array(old.ids.length).fill(-1);
    const fresh: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const o = oldIndex.get(ids[i]);
      if (o !== undefined && old.counts[o] === counts[i] && carried[o] < 0) carried[o] = i;
      else fresh.push(i);
    }
    const oldPoints = old.points;
    const oldOwners = old.owners;
    let keptTotal = 0;
    for (let p = 0; p < oldPoints.length; p++) if (carried[oldOwners[p]] >= 0) keptTotal++;
    const [freshPoints, freshOwners] = hashed(ids, counts, fresh);
    const total = keptTotal + freshPoints.length;
    const points = new Uint32Array(total);
    const owners = new Uint32Array(total);
    let a = 0;
    let b = 0;
    for (let k = 0; k < total; k++) {
      while (a < oldPoints.length && carried[oldOwners[a]] < 0) a++;
      // Both runs are sorted by (hash, id, list position), as a ring built from scratch is.
      let takeOld = a < oldPoints.length;
      if (takeOld && b < freshPoints.length && oldPoints[a] >= freshPoints[b]) {
        const mine = carried[oldOwners[a]];
        const theirs = freshOwners[b];
        takeOld = oldPoints[a] === freshPoints[b] && (ids[mine] < ids[theirs] || (ids[mine] === ids[theirs] && mine < theirs));
      }
      if (takeOld) {
        points[k] = oldPoints[a];
        owners[k] = carried[oldOwners[a++]];
      } else {
        points[k] = freshPoints[b];
        owners[k] = freshOwners[b++];
      }
    }
    return [points, owners];
  }
}

/** The points of `members` (indexes into ids), sorted by (hash, id), with their owners. */
function hashed(ids: readonly string[], counts: readonly number[], members: readonly number[]): [Uint32Array, Uint32Array] {
  // Rank by id so that collisions sort the same way whatever order the members came in.
  const byId = [...members].sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : a - b));
  let total = 0;
  for (const member of members) total += counts[member];
  const keys = new Float64Array(total);
  let k = 0;
  for (let rank = 0; rank < byId.length; rank++) {
    const member = byId[rank];
    const prefix = `${ids[member]}#`;
    for (let j = 0; j < counts[member]; j++) keys[k++] = ringHash(prefix + j) * OWNER_SCALE + rank;
  }
  keys.sort();
  const points = new Uint32Array(total);
  const owners = new Uint32Array(total);
  for (let p = 0; p < total; p++) {
    const rank = keys[p] % OWNER_SCALE;
    points[p] = (keys[p] - rank) / OWNER_SCALE;
    owners[p] = byId[rank];
  }
  return [points, owners];
}
