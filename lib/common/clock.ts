/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { unref?(): unknown } | number | undefined | object;

/**
 * Time source and timer factory injected into every time-driven component (heartbeats,
 * idle detection, backoff, call deadlines) so they can be driven by fake timers in tests.
 * Timers created through a clock never keep the process alive: the system clock unref()s them.
 */
export interface Clock {
  /** Milliseconds, monotonic for the purposes of deadlines. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. Reads the global timer functions at call time (not at import time), so
 * jest's fake timers installed after import still take effect.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
