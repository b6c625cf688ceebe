import { describe, expect, it } from '@jest/globals';
import type { Clock, TimerHandle } from '../../../lib/common/clock.js';
import { Alarm } from '../../../lib/liveness/alarm.js';

/**
 * A hand-driven clock whose clearTimeout cannot take back a callback already handed out: the
 * situation the alarm's generation guard exists for (a timer that fired in the same loop turn
 * as the owner re-set it).
 */
function manualClock() {
  let now = 1000;
  const timers: Array<{ at: number; callback: () => void; handle: number }> = [];
  let next = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout(callback, ms) {
      const handle = next++;
      timers.push({ at: now + ms, callback, handle });
      return handle as unknown as TimerHandle;
    },
    clearTimeout: () => undefined,
  };
  return {
    clock,
    timers,
    advance(ms: number) {
      now += ms;
      for (const t of timers.splice(0).sort((a, b) => a.at - b.at)) {
        if (t.at <= now) t.callback();
        else timers.push(t);
      }
    },
  };
}

describe('Alarm', () => {
  it('fires once at the time it was set for, then reads as unset', () => {
    const m = manualClock();
    let fired = 0;
    const alarm = new Alarm(m.clock, () => fired++);
    alarm.setFor(1050);
    expect(alarm.armedFor).toBe(1050);
    expect(m.timers[0].at).toBe(1050);
    m.advance(49);
    expect(fired).toBe(0);
    m.advance(1);
    expect(fired).toBe(1);
    expect(alarm.armedFor).toBe(Number.POSITIVE_INFINITY);
  });

  it('ignores a callback handed out before it was re-set or cleared', () => {
    const m = manualClock();
    let fired = 0;
    const alarm = new Alarm(m.clock, () => fired++);
    alarm.setFor(1010);
    alarm.setFor(1100); // the first timer still runs: this clock cannot cancel it
    m.advance(10);
    expect(fired).toBe(0);
    expect(alarm.armedFor).toBe(1100);
    alarm.clear();
    m.advance(100);
    expect(fired).toBe(0);
    expect(alarm.armedFor).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps an armed timer when set later, and re-arms once when it fires', () => {
    const m = manualClock();
    const firedAt: number[] = [];
    const alarm = new Alarm(m.clock, () => firedAt.push(m.clock.now()));
    alarm.setFor(1100);
    alarm.setFor(1300);
    expect(m.timers.map((t) => t.at)).toEqual([1100]);
    m.advance(100);
    expect(firedAt).toEqual([]);
    expect(m.timers.map((t) => t.at)).toEqual([1300]);
    m.advance(200);
    expect(firedAt).toEqual([1300]);
  });

  it('a kept timer that fires late, when the alarm is due already, fires it at once', () => {
    const m = manualClock();
    let fired = 0;
    const alarm = new Alarm(m.clock, () => fired++);
    alarm.setFor(1100);
    alarm.setFor(1300);
    m.advance(400); // the event loop was blocked past both times
    expect(fired).toBe(1);
    expect(m.timers).toHaveLength(0);
  });

  it('replaces an armed timer when set earlier', () => {
    const m = manualClock();
    const firedAt: number[] = [];
    const alarm = new Alarm(m.clock, () => firedAt.push(m.clock.now()));
    alarm.setFor(1300);
    alarm.setFor(1100);
    m.advance(100);
    expect(firedAt).toEqual([1100]);
    m.advance(200);
    // The first timer's callback still ran (this clock cannot cancel), and was ignored.
    expect(firedAt).toEqual([1100]);
  });

  it('relax(): nothing fires, and the next setFor reuses the timer', () => {
    const m = manualClock();
    let fired = 0;
    const alarm = new Alarm(m.clock, () => fired++);
    alarm.setFor(1100);
    alarm.relax();
    expect(alarm.armedFor).toBe(Number.POSITIVE_INFINITY);
    alarm.setFor(1200);
    expect(m.timers).toHaveLength(1);
    m.advance(100);
    expect(fired).toBe(0);
    m.advance(100);
    expect(fired).toBe(1);
    alarm.setFor(1300);
    alarm.relax();
    m.advance(200);
    expect(fired).toBe(1);
    expect(m.timers).toHaveLength(0);
  });

  it('clear() cancels the runtime timer', () => {
    const cleared: unknown[] = [];
    const m = manualClock();
    const clock: Clock = { ...m.clock, clearTimeout: (h) => cleared.push(h) };
    const alarm = new Alarm(clock, () => undefined);
    alarm.setFor(1100);
    alarm.clear();
    expect(cleared).toHaveLength(1);
  });

  it('never hands the clock a negative delay for a time already past', () => {
    const m = manualClock();
    const alarm = new Alarm(m.clock, () => undefined);
    alarm.setFor(900);
    expect(m.timers[0].at).toBe(1000);
  });
});
