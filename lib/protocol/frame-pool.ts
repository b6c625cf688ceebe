import { Clock, systemClock, TimerHandle } from '../common/clock.js';

/**
 * Reuses the memory of large outgoing frames once the socket has written them.
 *
 * A 16 KiB frame from `Buffer.allocUnsafe` is a fresh ArrayBuffer: its allocation, the page
 * faults of first touching it and the GC work of freeing it cost more than the copy of the
 * payload into it (about 3 µs of the 32 µs a 16 KiB echo costs the server, bench/PROFILE.md).
 * Frames of at least {@link POOL_MIN_BYTES} are therefore views on pooled slabs (power-of-two
 * sizes); the transport hands a frame back once `socket.write` reported it written, and the
 * next frame of that size class reuses the slab, still warm in the cache.
 *
 * Only slabs this pool created are taken back, each at most once until it is handed out again;
 * a frame nobody releases (an encode that failed, a socket destroyed before the write) is simply
 * garbage-collected. One pool per codec instance; nothing here is global.
 *
 * Bounded and self-shrinking: the free slabs never total more than `maxFreeBytes`, and every
 * `trimIntervalMs` the pool drops the slabs that were not needed during the interval (per size
 * class, the fewest that were free at any moment of it). A burst leaves its slabs for the next
 * burst; an idle pool is empty after two intervals, and its timer stops with it.
 */


/** Smaller frames come from Node's own 8 KiB buffer pool, which is already cheap. */
export const POOL_MIN_BYTES = 4 * 1024;
/** Larger frames are rare enough to allocate; their slabs would hold much memory idle. */
export const POOL_MAX_BYTES = 1024 * 1024;
/** Free slabs kept per size class: frames of one size in flight at once on a busy connection. */
const MAX_FREE_PER_CLASS = 32;
/** What the free slabs may total, over all size classes. */
export const POOL_MAX_FREE_BYTES = 16 * 1024 * 1024;
/** How often slabs unused for a whole interval are dropped. */
export const POOL_TRIM_INTERVAL_MS = 10_000;

export class FramePool {
  /** Free slabs by size class (index = log2 of the slab size); the most recently used last. */
  private readonly free: ArrayBuffer[][] = [];
  /** Per size class, the fewest free slabs seen since the trim timer was armed. */
  private readonly lowWater: number[] = [];
  private freeTotal = 0;
  private timer: TimerHandle | undefined;
  private closed = false;
  /** Slabs this pool created (and may take back). */
  private readonly owned = new WeakSet<ArrayBuffer>();

  constructor(
    private readonly maxFreeBytes = POOL_MAX_FREE_BYTES,
    private readonly clock: Clock = systemClock,
    private readonly trimIntervalMs = POOL_TRIM_INTERVAL_MS,
  ) {}

  /** A buffer of exactly `size` bytes, uninitialized (like Buffer.allocUnsafe). */
  alloc(size: number): Buffer {
    if (size < POOL_MIN_BYTES || size > POOL_MAX_BYTES) return Buffer.allocUnsafe(size);
    const sizeClass = 32 - Math.clz32(size - 1);
    const list = this.free[sizeClass];
    let slab = list?.pop();
    if (slab === undefined) {
      slab = this.newSlab(1 << sizeClass);
    } else {
      this.freeTotal -= slab.byteLength;
      const low = this.lowWater[sizeClass];
      if (low !== undefined && list!.length < low) this.lowWater[sizeClass] = list!.length;
    }
    return Buffer.from(slab, 0, size);
  }

  /** `frame` (from {@link alloc}) is written or dropped, and nothing refers to it any more. */
  release(frame: Buffer): void {
    const slab = frame.buffer as ArrayBuffer;
    if (this.closed || frame.byteOffset !== 0 || !this.owned.has(slab)) return;
    const sizeClass = 31 - Math.clz32(slab.byteLength);
    const list = (this.free[sizeClass] ??= []);
    // A slab released twice would be handed to two frames at once: never list it twice.
    if (list.length >= MAX_FREE_PER_CLASS || this.freeTotal + slab.byteLength > this.maxFreeBytes || list.includes(slab)) return;
    list.push(slab);
    this.freeTotal += slab.byteLength;
    if (this.timer === undefined) this.armTrim();
  }

  /** Free slabs held now, over all size classes (diagnostics, tests). */
  get freeSlabs(): number {
    let n = 0;
    for (const list of this.free) n += list?.length ?? 0;
    return n;
  }

  /** Bytes of the free slabs held now. */
  get freeBytes(): number {
    return this.freeTotal;
  }

  /** Drops every free slab and stops the trim timer; released frames are not kept any more. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.free.length = 0;
    this.freeTotal = 0;
  }

  private armTrim(): void {
    for (let c = 0; c < this.free.length; c++) this.lowWater[c] = this.free[c]?.length ?? 0;
    this.timer = this.clock.setTimeout(() => this.trim(), this.trimIntervalMs);
  }

  /** Drops, per size class, the slabs that stayed free for the whole interval (the least recently used). */
  private trim(): void {
    this.timer = undefined;
    for (let c = 0; c < this.free.length; c++) {
      const list = this.free[c];
      const unused = Math.min(this.lowWater[c] ?? 0, list?.length ?? 0);
      if (!list || unused === 0) continue;
      for (const slab of list.splice(0, unused)) this.freeTotal -= slab.byteLength;
    }
    if (this.freeTotal > 0) this.armTrim();
  }

  private newSlab(bytes: number): ArrayBuffer {
    // Node's allocUnsafe buffers above half its pool size own their ArrayBuffer outright.
    const slab = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    this.owned.add(slab);
    return slab;
  }
}
