import type { Clock } from '../../../lib/common/clock.js';
import { systemClock } from '../../../lib/common/clock.js';

/**
 * The system clock's timers (which jest's fake timers drive), counted, so tests can assert
 * "one timer, not one per frame / per call". `now()` reads jest's fake `Date`: under fake timers
 * it is as monotonic as the timers themselves, it starts at the test's `now` (so deadlines read
 * T0 + n), and it stays fake when a test keeps the real `performance` to time itself.
 */
export interface CountingClock extends Clock {
  readonly created: number;
  readonly cleared: number;
  /** Timers created and neither fired nor cleared. */
  readonly live: number;
}

export function countingClock(): CountingClock {
  let created = 0;
  let cleared = 0;
  const pending = new Set<unknown>();
  return {
    now: () => Date.now(),
    setTimeout(callback, ms) {
      created++;
      const handle: unknown = systemClock.setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle as ReturnType<Clock['setTimeout']>;
    },
    clearTimeout(handle) {
      if (pending.delete(handle)) cleared++;
      systemClock.clearTimeout(handle);
    },
    get created() {
      return created;
    },
    get cleared() {
      return cleared;
    },
    get live() {
      return pending.size;
    },
  };
}
