/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { unref?(): unknown } | number | undefined | object;

/**
 * Time source and timer factory injected into every time-driven component (heartbeats,
 * idle detection, backoff, call deadlines) so they can be driven by fake timers in tests.
 * Timers created through a clock never keep the process alive: the system clock unref()s them.
 */
export interface Clock {
  /**
   * Milliseconds on a monotonic scale with an arbitrary origin: only differences mean anything.
   * Every duration, deadline and timeout reads this, so a step of the wall clock (NTP, an operator,
   * a VM resumed) neither delays a timeout nor cuts a healthy connection.
   */
  now(): number;
  /**
   * Wall-clock milliseconds since the epoch, for the one comparison that needs them: with a time
   * another host published (a provider's `startTime`, for warm-up). Never for durations.
   * Optional so existing clocks stay valid: read it through {@link wallTime}, which falls back
   * to `Date.now()`.
   */
  wallNow?(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `performance.now()` (monotonic) and `Date.now()` for wall time. Reads the
 * globals at call time (not at import time), so jest's fake timers installed after import still
 * take effect (they fake `performance` too unless told not to).
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** Wall-clock ms since the epoch from `clock` ({@link Clock.wallNow}, else `Date.now()`). */
export function wallTime(clock: Clock): number {
  return clock.wallNow ? clock.wallNow() : Date.now();
}
