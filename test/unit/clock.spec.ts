import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { WarmupBalancer, WeightedRandomBalancer } from '../../lib/balancer/index.js';
import { systemClock, wallTime, type Clock } from '../../lib/common/clock.js';
import { candidate } from './balancer/fixtures.js';

const HOUR = 3_600_000;

/** `Date.now` as a step of the system clock leaves it: `offset` ms away from the real time. */
function steppedWallClock(): { step(ms: number): void } {
  const realNow = Date.now.bind(Date);
  let offset = 0;
  jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
  return { step: (ms) => void (offset += ms) };
}

describe('systemClock', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it.each([HOUR, -HOUR])('now() is monotonic: a wall-clock step of %i ms does not move it', (step) => {
    const wall = steppedWallClock();
    const before = systemClock.now();
    wall.step(step);
    const after = systemClock.now();
    // Durations (deadlines, heartbeats, idle sweep, frame timeout, backoff, outlier ejection,
    // retry budget) are differences of now(): the step must not show in them.
    expect(after - before).toBeGreaterThanOrEqual(0);
    expect(after - before).toBeLessThan(1000);
  });

  it('wallNow() is the wall clock, steps included (warm-up compares it with published start times)', () => {
    const wall = steppedWallClock();
    wall.step(HOUR);
    expect(Math.abs(systemClock.wallNow!() - Date.now())).toBeLessThan(50);
    expect(Math.abs(wallTime(systemClock) - Date.now())).toBeLessThan(50);
  });

  it('wallTime() falls back to Date.now() for a clock without wallNow', () => {
    const clock: Clock = { now: () => 5, setTimeout: () => undefined, clearTimeout: () => undefined };
    const wall = steppedWallClock();
    wall.step(-HOUR);
    expect(Math.abs(wallTime(clock) - Date.now())).toBeLessThan(50);
  });
});

describe('warm-up against the wall clock', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it("uses the system clock's wall time, so a provider's published startTime keeps its meaning", () => {
    const WARMUP = 600_000;
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(), WARMUP, systemClock);
    const halfway = candidate('a', 10, { startTime: String(Date.now() - WARMUP / 2) });
    expect(balancer.weightOf(halfway)).toBeCloseTo(5, 1);
    // The host's own clock steps (NTP catching up): uptime follows the wall clock, as startTime does.
    steppedWallClock().step(WARMUP / 4);
    expect(balancer.weightOf(halfway)).toBeCloseTo(7.5, 1);
  });

  it('reads wallNow, not now, of an injected clock', () => {
    const START = 1_700_000_000_000;
    const clock: Clock = { now: () => 42, wallNow: () => START + 300_000, setTimeout: () => undefined, clearTimeout: () => undefined };
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(), 600_000, clock);
    expect(balancer.weightOf(candidate('a', 10, { startTime: String(START) }))).toBeCloseTo(5, 5);
  });
});
