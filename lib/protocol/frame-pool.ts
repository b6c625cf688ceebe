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
 */

/** Smaller frames come from Node's own 8 KiB buffer pool, which is already cheap. */
export const POOL_MIN_BYTES = 4 * 1024;
/** Larger frames are rare enough to allocate; their slabs would hold much memory idle. */
export const POOL_MAX_BYTES = 1024 * 1024;
/** Free slabs kept per size class: frames of one size in flight at once on a busy connection. */
const MAX_FREE_PER_CLASS = 32;

export class FramePool {
  /** Free slabs by size class (index = log2 of the slab size). */
  private readonly free: ArrayBuffer[][] = [];
  /** Slabs this pool created (and may take back). */
  private readonly owned = new WeakSet<ArrayBuffer>();

  /** A buffer of exactly `size` bytes, uninitialized (like Buffer.allocUnsafe). */
  alloc(size: number): Buffer {
    if (size < POOL_MIN_BYTES || size > POOL_MAX_BYTES) return Buffer.allocUnsafe(size);
    const sizeClass = 32 - Math.clz32(size - 1);
    const slab = this.free[sizeClass]?.pop() ?? this.newSlab(1 << sizeClass);
    return Buffer.from(slab, 0, size);
  }

  /** `frame` (from {@link alloc}) is written or dropped, and nothing refers to it any more. */
  release(frame: Buffer): void {
    const slab = frame.buffer as ArrayBuffer;
    if (frame.byteOffset !== 0 || !this.owned.has(slab)) return;
    const sizeClass = 31 - Math.clz32(slab.byteLength);
    const list = (this.free[sizeClass] ??= []);
    // A slab released twice would be handed to two frames at once: never list it twice.
    if (list.length >= MAX_FREE_PER_CLASS || list.includes(slab)) return;
    list.push(slab);
  }

  /** Free slabs held now, over all size classes (diagnostics, tests). */
  get freeSlabs(): number {
    let n = 0;
    for (const list of this.free) n += list?.length ?? 0;
    return n;
  }

  private newSlab(bytes: number): ArrayBuffer {
    // Node's allocUnsafe buffers above half its pool size own their ArrayBuffer outright.
    const slab = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    this.owned.add(slab);
    return slab;
  }
}
