import { systemClock, type Clock } from '../common/clock.js';
import { checkNumber } from '../common/option-checks.js';
import { DeadlineHeap, isEarlier, type DeadlineEntry } from './deadline-heap.js';
import { Alarm } from './alarm.js';

// Where an entry lives; plain numbers because `const enum` does not survive per-file transpilation.
const SLOT_NONE = 0;
const SLOT_FIFO = 1;
const SLOT_HEAP = 2;
const SLOT_DEFERRED = 3;

// Below this much garbage a FIFO compaction is not worth a pass over the array.
const MIN_COMPACT_GARBAGE = 64;

/**
 * Per-connection call deadlines with ONE timer, armed for the earliest deadline.
 *
 * Layout, chosen for the common case (every call on a connection uses the same timeout, so
 * deadlines arrive in non-decreasing order):
 * - a FIFO array receives every entry whose deadline is >= the FIFO's last deadline: add is O(1),
 *   the earliest FIFO entry is its head, and expiring k entries costs O(k);
 * - an indexed min-heap receives the out-of-order rest (a shorter per-call timeout): O(log n);
 * - a Map from key to entry gives O(1) delete. A deleted FIFO entry becomes a tombstone (removing
 *   from the middle of an array is O(n)); tombstones are compacted away once they outnumber the live
 *   entries, which keeps memory O(live) and the amortized cost O(1) per delete.
 * A fire therefore touches only the entries that are due, never the 10k pending ones behind them.
 *
 * The timer is re-armed only when a new deadline is earlier than the armed one, or when it fires.
 * A delete never re-arms (the timer may fire early, find nothing due and re-arm). An empty queue
 * leaves its timer to lapse, or to be reused by the next add: calls made one at a time empty the
 * queue after each call, and would otherwise create and cancel a timer per call. {@link clear}
 * cancels it.
 */
export class DeadlineQueue<K, V = undefined> {
  private readonly entries = new Map<K, DeadlineEntry<K, V>>();
  private fifo: DeadlineEntry<K, V>[] = [];
  private fifoHead = 0;
  private fifoLive = 0;
  private readonly heap = new DeadlineHeap<K, V>();

  // Keys added by an onExpired callback wait here until the expiry pass ends, so a callback that
  // re-adds an already-due key cannot keep the pass going forever; they are due on the next turn.
  private deferred: DeadlineEntry<K, V>[] = [];
  private firing = false;
  private seq = 0;

  private readonly alarm: Alarm;

  /**
   * @param onExpired called once per key whose deadline passed, earliest first (insertion order
   *   among equal deadlines), with the value it was added with. The key is already removed when
   *   it runs; it may add, delete or clear.
   *   It should not throw: the queue stays consistent and re-arms, but the error surfaces as an
   *   uncaught exception and the rest of the batch expires on the next timer turn.
   */
  constructor(
    private readonly onExpired: (key: K, value: V) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.alarm = new Alarm(clock, () => this.onTimer());
  }

  /** Pending keys (including ones added during an expiry pass). */
  get size(): number {
    return this.entries.size;
  }

  /** Earliest pending deadline, if any. */
  get nextDeadline(): number | undefined {
    const placed = this.peek();
    const deferred = this.deferredEarliest();
    if (placed === undefined || deferred === undefined) return (placed ?? deferred)?.deadline;
    return Math.min(placed.deadline, deferred.deadline);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** The value `key` was added with, while it is pending. */
  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  /**
   * Schedules `key` to expire at `deadlineMs` (absolute, on the `clock.now()` scale), keeping
   * `value` with it. Adding a key that is already pending replaces its deadline and value.
   * @throws InvalidOptionsError when `deadlineMs` is not a finite number.
   */
  add(key: K, deadlineMs: number, value?: V): void {
    // Checked here rather than per caller: a NaN deadline would never expire. One comparison
    // for the usual finite number (this runs for every call).
    if (!(deadlineMs > -Infinity && deadlineMs < Infinity)) checkNumber('deadlineMs', deadlineMs, -Number.MAX_VALUE);
    const existing = this.entries.get(key);
    if (existing !== undefined) this.unlink(existing);
    const entry: DeadlineEntry<K, V> = {
      key,
      value: value as V,
      deadline: deadlineMs,
      seq: this.seq++,
      slot: SLOT_NONE,
      heapIndex: -1,
    };
    this.entries.set(key, entry);
    if (this.firing) {
      entry.slot = SLOT_DEFERRED;
      this.deferred.push(entry);
      return;
    }
    this.place(entry);
    if (deadlineMs < this.alarm.armedFor) this.alarm.setFor(deadlineMs);
  }

  /** Forgets `key` (its call completed); returns whether it was pending. */
  delete(key: K): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.remove(entry);
    return true;
  }

  /** Forgets `key` and returns the value it was added with (undefined when it was not pending). */
  take(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const value = entry.value;
    this.remove(entry);
    return value;
  }

  private remove(entry: DeadlineEntry<K, V>): void {
    this.entries.delete(entry.key);
    this.unlink(entry);
    // Relaxed, not cleared: with one call at a time the queue empties after every call, and the
    // next add reuses the armed timer instead of creating one per call.
    if (this.entries.size === 0 && !this.firing) this.alarm.relax();
  }

  /** Visits every pending value, in no particular order. */
  forEach(visit: (value: V, key: K) => void): void {
    for (const entry of this.entries.values()) visit(entry.value, entry.key);
  }

  /** Forgets every key and cancels the timer; the queue stays usable. */
  clear(): void {
    for (const entry of this.entries.values()) entry.slot = SLOT_NONE;
    this.entries.clear();
    this.fifo = [];
    this.fifoHead = 0;
    this.fifoLive = 0;
    this.heap.clear();
    this.deferred = [];
    this.alarm.clear();
  }

  private place(entry: DeadlineEntry<K, V>): void {
    if (this.fifoLive === 0 && this.fifo.length > 0) {
      this.fifo = [];
      this.fifoHead = 0;
    }
    const fifo = this.fifo;
    if (fifo.length === 0 || entry.deadline >= fifo[fifo.length - 1].deadline) {
      entry.slot = SLOT_FIFO;
      fifo.push(entry);
      this.fifoLive++;
    } else {
      entry.slot = SLOT_HEAP;
      this.heap.push(entry);
    }
  }

  /** Removes `entry` from whichever structure holds it (not from `entries`). */
  private unlink(entry: DeadlineEntry<K, V>): void {
    const slot = entry.slot;
    entry.slot = SLOT_NONE;
    // A FIFO tombstone stays in the array until compaction: it must not hold on to the value
    // (a call's observer, and through it the call's promise and its answer).
    entry.value = undefined as V;
    if (slot === SLOT_FIFO) {
      this.fifoLive--;
      this.maybeCompactFifo();
    } else if (slot === SLOT_HEAP) {
      this.heap.remove(entry);
    }
    // A deferred entry is skipped when the deferred list is flushed.
  }

  private maybeCompactFifo(): void {
    const garbage = this.fifo.length - this.fifoLive;
    if (garbage < MIN_COMPACT_GARBAGE || garbage <= this.fifoLive) return;
    const live: DeadlineEntry<K, V>[] = [];
    for (let i = this.fifoHead; i < this.fifo.length; i++) {
      if (this.fifo[i].slot === SLOT_FIFO) live.push(this.fifo[i]);
    }
    this.fifo = live;
    this.fifoHead = 0;
  }

  private peek(): DeadlineEntry<K, V> | undefined {
    const fifo = this.fifo;
    while (this.fifoHead < fifo.length && fifo[this.fifoHead].slot !== SLOT_FIFO) this.fifoHead++;
    const head = fifo[this.fifoHead];
    const top = this.heap.peek();
    if (head === undefined) return top;
    if (top === undefined) return head;
    return isEarlier(top, head) ? top : head;
  }

  private deferredEarliest(): DeadlineEntry<K, V> | undefined {
    let earliest: DeadlineEntry<K, V> | undefined;
    for (const entry of this.deferred) {
      if (entry.slot === SLOT_DEFERRED && (earliest === undefined || isEarlier(entry, earliest))) earliest = entry;
    }
    return earliest;
  }

  private onTimer(): void {
    const now = this.clock.now();
    this.firing = true;
    try {
      for (let entry = this.peek(); entry !== undefined && entry.deadline <= now; entry = this.peek()) {
        const value = entry.value;
        this.entries.delete(entry.key);
        this.unlink(entry);
        this.onExpired(entry.key, value);
      }
    } finally {
      this.firing = false;
      const deferred = this.deferred;
      this.deferred = [];
      for (const entry of deferred) {
        if (entry.slot === SLOT_DEFERRED) this.place(entry);
      }
      const next = this.peek();
      if (next !== undefined) this.alarm.setFor(next.deadline);
    }
  }
}
