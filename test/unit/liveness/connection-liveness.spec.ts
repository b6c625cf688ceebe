import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConnectionLiveness } from '../../../lib/connection/connection-liveness.js';
import { countingClock, type CountingClock } from './counting-clock.js';

/**
 * Pings per interval on one client connection. Every ping costs the server a read, a decode and
 * a write: at 10,000 idle connections a second ping per interval is a thousand more syscalls a
 * second, so "one ping per interval" is checked here against simulated round trips.
 */
describe('ConnectionLiveness pings', () => {
  let clock: CountingClock;
  let liveness: ConnectionLiveness;
  let pings: number[];
  let dead: number;

  /** A peer that answers every ping after `rttMs` (a pong is a read). `0` answers in the same tick. */
  function start(interval: number, rttMs: number | 'never'): void {
    liveness = new ConnectionLiveness(interval, interval * 10, clock, {
      ping: () => {
        pings.push(clock.now());
        // The transport marks the write when it flushes, later in the same turn.
        setImmediate(() => liveness.markWrite());
        if (rttMs === 'never') return;
        if (rttMs === 0) setImmediate(() => liveness.markRead());
        else setTimeout(() => liveness.markRead(), rttMs);
      },
      dead: () => dead++,
    });
    liveness.start();
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    clock = countingClock();
    pings = [];
    dead = 0;
  });
  afterEach(() => {
    liveness.stop();
    jest.useRealTimers();
  });

  it.each([0, 1, 2, 7])('an idle line pings once per interval (pong after %i ms)', (rtt) => {
    start(1000, rtt);
    jest.advanceTimersByTime(10_000 + 500);
    expect(pings).toHaveLength(10);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1000);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(1000 + rtt + 1);
  });

  it('a line that only writes (answers slow) still pings every interval on read-idle', () => {
    start(1000, 'never');
    // The application writes a request every 100 ms: never write-idle, nothing read.
    const writer = setInterval(() => liveness.markWrite(), 100);
    jest.advanceTimersByTime(5_000 + 50);
    clearInterval(writer);
    expect(pings).toHaveLength(5);
    expect(dead).toBe(0);
  });

  it('a line with steady reads and writes sends no ping at all', () => {
    start(1000, 0);
    const traffic = setInterval(() => {
      liveness.markWrite();
      liveness.markRead();
    }, 100);
    jest.advanceTimersByTime(5_000);
    clearInterval(traffic);
    expect(pings).toEqual([]);
  });
});
