import type { Clock } from '../../../lib/common/clock.js';

/** A clock whose time only moves when the test says so (no timers needed by these classes). */
export function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    setTimeout: () => undefined,
    clearTimeout: () => undefined,
    advance(ms: number) {
      now += ms;
    },
  };
}
