/** The part of a Node timer the hold uses: one handle, referenced or not. */
export interface RefHandle {
  ref(): unknown;
  unref(): unknown;
}

/** A timer that never fires in practice (the longest delay Node accepts), created unref'd. */
function createIdleHandle(): RefHandle {
  // Read at call time, not import time, so that jest's fake timers installed later apply.
  const handle = setInterval(() => undefined, 0x7fffffff);
  handle.unref();
  return handle;
}

/**
 * Keeps the process alive while something a caller awaits is pending (a call, a `connect()`, an
 * `emit()` waiting for a provider), the way a socket with a pending read does; when nothing is
 * pending it holds nothing, so an idle client never keeps a script from exiting. Every other timer
 * of the library is unref'd: without this, a script whose provider is unreachable exited silently
 * while its `await client.send(...)` was pending, its `catch` never running.
 *
 * One handle for all pending work, referenced on 0 → 1 and unreferenced on 1 → 0: a flag flip per
 * transition, no allocation per call.
 */
export class ProcessHold {
  private pending = 0;
  private handle: RefHandle | undefined;
  /** The owner closed: the handle goes as soon as nothing is pending. */
  private disposing = false;

  constructor(private readonly createHandle: () => RefHandle = createIdleHandle) {}

  /** Operations that hold the process now. */
  get count(): number {
    return this.pending;
  }

  /** One more pending operation; the process stays alive until its {@link release}. */
  acquire(): void {
    this.disposing = false;
    if (this.pending++ === 0) (this.handle ??= this.createHandle()).ref();
  }

  /** One pending operation ended; call exactly once per {@link acquire}. */
  release(): void {
    if (this.pending === 0) return;
    if (--this.pending > 0) return;
    this.handle?.unref();
    if (this.disposing) this.drop();
  }

  /** Runs `work`, holding the process until its promise settles. */
  async around<T>(work: () => Promise<T>): Promise<T> {
    this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /**
   * The owner closed: the handle is cleared once nothing is pending (at once when idle), so a
   * closed client leaves no timer behind; a later {@link acquire} makes a new one.
   */
  dispose(): void {
    this.disposing = true;
    if (this.pending === 0) this.drop();
  }

  private drop(): void {
    const handle = this.handle;
    this.handle = undefined;
    this.disposing = false;
    if (handle) clearInterval(handle as unknown as ReturnType<typeof setInterval>);
  }
}
