/**
 * A pending key with its deadline. `seq` (insertion counter) breaks ties so equal deadlines expire
 * in insertion order; `slot` records where the entry lives so removal is O(1) / O(log n) without
 * searching.
 */
export interface DeadlineEntry<K, V = undefined> {
  readonly key: K;
  /**
   * What the owner keeps with the key (e.g. a call's observer): one map for both. Dropped once
   * the entry is removed: a FIFO tombstone must not keep a finished call's objects alive.
   */
  value: V;
  readonly deadline: number;
  readonly seq: number;
  /** Which structure of the owning queue holds the entry (see `Slot` in deadline-queue.ts). */
  slot: number;
  /** Position in the heap array while `slot` says heap; maintained by {@link DeadlineHeap}. */
  heapIndex: number;
}

/** Earlier deadline first; insertion order among equal deadlines. */
export function isEarlier<K, V>(a: DeadlineEntry<K, V>, b: DeadlineEntry<K, V>): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/**
 * Indexed binary min-heap: every entry knows its index, so removing an arbitrary entry (a call that
 * got its response) is O(log n) and leaves no tombstone behind. Lazy deletion would be simpler but
 * lets completed calls pile up until their deadline, which for long timeouts and high call rates is
 * an unbounded amount of garbage.
 */
export class DeadlineHeap<K, V = undefined> {
  private readonly items: DeadlineEntry<K, V>[] = [];

  peek(): DeadlineEntry<K, V> | undefined {
    return this.items[0];
  }

  push(entry: DeadlineEntry<K, V>): void {
    entry.heapIndex = this.items.length;
    this.items.push(entry);
    this.siftUp(entry.heapIndex);
  }

  /** Removes `entry`, which must be in this heap. */
  remove(entry: DeadlineEntry<K, V>): void {
    const index = entry.heapIndex;
    const last = this.items.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.items[index] = last;
    last.heapIndex = index;
    // The moved entry may belong above or below its new position.
    if (index > 0 && isEarlier(last, this.items[(index - 1) >> 1])) this.siftUp(index);
    else this.siftDown(index);
  }

  clear(): void {
    for (const entry of this.items) entry.heapIndex = -1;
    this.items.length = 0;
  }

  private siftUp(index: number): void {
    const items = this.items;
    const entry = items[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex];
      if (!isEarlier(entry, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = entry;
    entry.heapIndex = index;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const length = items.length;
    const entry = items[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && isEarlier(items[right], items[left]) ? right : left;
      if (!isEarlier(items[child], entry)) break;
      items[index] = items[child];
      items[index].heapIndex = index;
      index = child;
    }
    items[index] = entry;
    entry.heapIndex = index;
  }
}
