import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { WriteStall, type WriteQueue } from '../../../lib/liveness/write-stall.js';
import { countingClock } from './counting-clock.js';

/** A write queue whose flushed count and backlog the test moves by hand. */
function queue(): WriteQueue & { flushed: number; waiting: number; stalledAfter: number[] } {
  const q = {
    flushed: 0,
    waiting: 1000,
    stalledAfter: [] as number[],
    flushedBytes: () => q.flushed,
    overLimit: () => q.waiting > 0,
    stalled: (ms: number) => void q.stalledAfter.push(ms),
  };
  return q;
}

describe('WriteStall', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('reports a queue with bytes waiting and none leaving for a whole period', () => {
    const clock = countingClock();
    const q = queue();
    const stall = new WriteStall(300, clock, q);
    stall.arm();
    stall.arm();
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(299);
    expect(q.stalledAfter).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(q.stalledAfter).toEqual([300]);
    expect(clock.live).toBe(0);
  });

  it('never reports a slow reader: any progress within a period re-arms it; a drained queue stops it', () => {
    const clock = countingClock();
    const q = queue();
    const stall = new WriteStall(300, clock, q);
    stall.arm();
    for (let i = 0; i < 20; i++) {
      q.flushed += 1; // one byte per period is enough
      jest.advanceTimersByTime(300);
    }
    expect(q.stalledAfter).toEqual([]);
    expect(stall.armed).toBe(true);
    q.waiting = 0;
    jest.advanceTimersByTime(300);
    expect(stall.armed).toBe(false);
    expect(clock.live).toBe(0);
    stall.arm();
    stall.stop();
    expect(clock.live).toBe(0);
  });
});
