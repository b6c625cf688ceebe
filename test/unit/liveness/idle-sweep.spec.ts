import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import { IdleSweep, type IdleSweepMember } from '../../../lib/liveness/index.js';
import { countingClock, type CountingClock } from './counting-clock.js';

/** A member whose firings are recorded; `read()` is what its owner does on every chunk. */
function member(clock: CountingClock, fired: Array<[IdleSweepMember, number]>) {
  const m = {
    lastReadAt: 0,
    onIdle(idleFor: number) {
      fired.push([m, idleFor]);
    },
    read() {
      m.lastReadAt = clock.now();
    },
  };
  return m;
}

describe('IdleSweep', () => {
  let clock: CountingClock;
  let sweep: IdleSweep | undefined;
  let fired: Array<[IdleSweepMember, number]>;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    clock = countingClock();
    fired = [];
  });
  afterEach(() => {
    sweep?.close();
    sweep = undefined;
    expect(clock.live).toBe(0);
    jest.useRealTimers();
  });

  it('validates idleMs', () => {
    expect(() => new IdleSweep(0, clock)).toThrow(InvalidOptionsError);
    expect(() => new IdleSweep(1.5, clock)).toThrow(/idleSweep\.idleMs/);
  });

  it('fires a silent member once, idleMs after it joined, and drops it', () => {
    sweep = new IdleSweep(1000, clock);
    const a = member(clock, fired);
    sweep.add(a);
    jest.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(fired).toEqual([[a, 1000]]);
    expect(sweep.size).toBe(0);
    jest.advanceTimersByTime(10_000);
    expect(fired).toHaveLength(1);
  });

  it('reads postpone the deadline without touching the timer', () => {
    sweep = new IdleSweep(1000, clock);
    const a = member(clock, fired);
    sweep.add(a);
    const created = clock.created;
    for (let i = 0; i < 50; i++) {
      jest.advanceTimersByTime(100);
      a.read();
    }
    // 5 s of reads every 100 ms: a handful of wake-ups (one per idle period), never one per read.
    expect(clock.created - created).toBeLessThanOrEqual(6);
    expect(fired).toEqual([]);
    jest.advanceTimersByTime(1050);
    expect(fired.map(([m]) => m)).toEqual([a]);
    expect(fired[0][1]).toBeGreaterThanOrEqual(1000);
    expect(fired[0][1]).toBeLessThanOrEqual(1050);
  });

  it('one timer for many members; each is cut within idleMs * 1.05 of its own last read', () => {
    sweep = new IdleSweep(1000, clock);
    const members = Array.from({ length: 200 }, () => member(clock, fired));
    const lastRead = new Map<IdleSweepMember, number>();
    for (const [i, m] of members.entries()) {
      sweep.add(m);
      jest.advanceTimersByTime(i % 3); // spread the deadlines
      m.read();
      lastRead.set(m, clock.now());
    }
    expect(clock.live).toBe(1);
    const firedAt = new Map<IdleSweepMember, number>();
    const check = setInterval(() => {
      for (const [m] of fired) if (!firedAt.has(m)) firedAt.set(m, clock.now());
    }, 1);
    jest.advanceTimersByTime(3000);
    clearInterval(check);
    expect(fired).toHaveLength(200);
    for (const m of members) {
      const late = firedAt.get(m)! - lastRead.get(m)!;
      expect(late).toBeGreaterThanOrEqual(1000);
      expect(late).toBeLessThanOrEqual(1051);
    }
    expect(clock.live).toBe(0);
  });

  it('deleting the last member stops the timer; close() stops everything', () => {
    sweep = new IdleSweep(1000, clock);
    const a = member(clock, fired);
    const b = member(clock, fired);
    sweep.add(a);
    sweep.add(b);
    sweep.delete(a);
    expect(clock.live).toBe(1);
    sweep.delete(b);
    expect(clock.live).toBe(0);
    sweep.add(a);
    sweep.close();
    jest.advanceTimersByTime(5000);
    expect(fired).toEqual([]);
    sweep.add(b); // ignored once closed
    expect(clock.live).toBe(0);
  });

  it('a throwing member does not stop the others and the error is not swallowed', () => {
    sweep = new IdleSweep(100, clock);
    const bad = { lastReadAt: 0, onIdle: () => { throw new Error('owner bug'); } };
    const good = member(clock, fired);
    const later = member(clock, fired);
    sweep.add(bad);
    sweep.add(good);
    jest.advanceTimersByTime(50);
    sweep.add(later);
    expect(() => jest.advanceTimersByTime(50)).toThrow('owner bug');
    expect(fired.map(([m]) => m)).toEqual([good]);
    // The sweep re-armed before rethrowing: the later member is still watched.
    jest.advanceTimersByTime(60);
    expect(fired.map(([m]) => m)).toEqual([good, later]);
  });
});
