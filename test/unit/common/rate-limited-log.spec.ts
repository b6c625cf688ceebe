import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RateLimitedLog } from '../../../lib/common/rate-limited-log.js';
import { countingClock } from '../liveness/counting-clock.js';

describe('RateLimitedLog', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('logs the first occurrence at once, then one line per interval with the count, and loses none', () => {
    const clock = countingClock();
    const lines: Array<[string, string | undefined]> = [];
    const log = new RateLimitedLog((line, stack) => lines.push([line, stack]), 1000, clock);
    log.report('a failed', 'stack-a');
    expect(lines).toEqual([['a failed', 'stack-a']]);
    for (let i = 0; i < 500; i++) log.report(`b${i} failed`, 'stack-b');
    expect(lines).toHaveLength(1);
    jest.advanceTimersByTime(1000);
    expect(lines).toEqual([
      ['a failed', 'stack-a'],
      ['500 more in the last 1 s; the last: b499 failed', undefined],
    ]);
    // A flood that goes on: still one line per interval.
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 100; i++) log.report('c failed');
      jest.advanceTimersByTime(1000);
    }
    expect(lines).toHaveLength(5);
    expect(lines.slice(2).map(([l]) => l)).toEqual(Array(3).fill('100 more in the last 1 s; the last: c failed'));
    expect(log.count).toBe(801);
    // Quiet: the interval closes and its timer stops; the next occurrence is logged at once again.
    jest.advanceTimersByTime(1000);
    expect(clock.live).toBe(0);
    log.report('d failed');
    expect(lines.at(-1)).toEqual(['d failed', undefined]);
    log.report('e failed');
    log.close();
    expect(lines.at(-1)).toEqual(['1 more in the last 1 s; the last: e failed', undefined]);
    expect(clock.live).toBe(0);
  });
});
