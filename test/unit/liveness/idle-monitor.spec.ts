import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Clock } from '../../../lib/common/clock.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import { systemClock } from '../../../lib/common/clock.js';
import { DEFAULT_IDLE_MONITOR_OPTIONS, IdleMonitor, resolveIdleMonitorOptions } from '../../../lib/liveness/index.js';
import { countingClock, type CountingClock } from './counting-clock.js';

describe('resolveIdleMonitorOptions', () => {
  const callbacks = { onReaderIdle: () => {}, onWriterIdle: () => {} };

  it('fills the documented defaults', () => {
    const resolved = resolveIdleMonitorOptions(callbacks);
    expect(resolved.readerIdleMs).toBe(0);
    expect(resolved.writerIdleMs).toBe(0);
    expect(resolved.clock).toBe(systemClock);
    expect(DEFAULT_IDLE_MONITOR_OPTIONS).toEqual({ readerIdleMs: 0, writerIdleMs: 0, clock: systemClock });
  });

  it('names the bad field', () => {
    expect(() => resolveIdleMonitorOptions({ ...callbacks, readerIdleMs: -1 })).toThrow(/"idle\.readerIdleMs"/);
    expect(() => resolveIdleMonitorOptions({ ...callbacks, writerIdleMs: 1.5 })).toThrow(/"idle\.writerIdleMs"/);
    expect(() => resolveIdleMonitorOptions({ ...callbacks, onReaderIdle: undefined as never })).toThrow(
      /"idle\.onReaderIdle".*function/,
    );
    expect(() => resolveIdleMonitorOptions({ ...callbacks, clock: {} as Clock })).toThrow(/"idle\.clock\.now"/);
    expect(() => resolveIdleMonitorOptions({ ...callbacks, readIdleMs: 5 } as never)).toThrow(/"idle\.readIdleMs".*unknown/);
    expect(() => resolveIdleMonitorOptions({ ...callbacks, writerIdleMs: -1 }, 'heartbeat')).toThrow(
      /"heartbeat\.writerIdleMs"/,
    );
    expect(() => new IdleMonitor({ ...callbacks, readerIdleMs: Number.NaN })).toThrow(InvalidOptionsError);
  });
});

describe('IdleMonitor', () => {
  let clock: CountingClock;
  let monitor: IdleMonitor | undefined;
  let readerIdle: jest.Mock<(idleForMs: number) => void>;
  let writerIdle: jest.Mock<(idleForMs: number) => void>;

  function create(readerIdleMs: number, writerIdleMs: number): IdleMonitor {
    monitor = new IdleMonitor({ readerIdleMs, writerIdleMs, onReaderIdle: readerIdle, onWriterIdle: writerIdle, clock });
    return monitor;
  }

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    clock = countingClock();
    readerIdle = jest.fn();
    writerIdle = jest.fn();
  });

  afterEach(() => {
    monitor?.stop();
    monitor = undefined;
    expect(clock.live).toBe(0);
    jest.useRealTimers();
  });

  it('fires reader idle after exactly readerIdleMs without reads', () => {
    create(1000, 0).start();
    jest.advanceTimersByTime(999);
    expect(readerIdle).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(readerIdle).toHaveBeenCalledTimes(1);
    expect(readerIdle).toHaveBeenCalledWith(1000);
    expect(writerIdle).not.toHaveBeenCalled();
  });

  it('does nothing before start() and when both directions are off', () => {
    create(100, 100);
    jest.advanceTimersByTime(1000);
    expect(clock.created).toBe(0);
    monitor!.stop();
    create(0, 0).start();
    jest.advanceTimersByTime(10_000);
    expect(clock.created).toBe(0);
    expect(readerIdle).not.toHaveBeenCalled();
    expect(writerIdle).not.toHaveBeenCalled();
  });

  it('postpones on activity without a timer per frame', () => {
    const m = create(1000, 0);
    m.start();
    for (let i = 0; i < 1000; i++) {
      jest.advanceTimersByTime(1);
      m.markRead();
    }
    for (let i = 0; i < 10_000; i++) m.markRead();
    expect(readerIdle).not.toHaveBeenCalled();
    // The initial timer plus one re-arm when it woke up early and found a recent read.
    expect(clock.created).toBeLessThanOrEqual(2);
    expect(clock.cleared).toBe(0);
    // Idle is then measured from the last read (t = 1000).
    jest.advanceTimersByTime(999);
    expect(readerIdle).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(readerIdle).toHaveBeenCalledWith(1000);
  });

  it('markRead/markWrite only store the time', () => {
    const m = create(1000, 1000);
    m.start();
    const created = clock.created;
    jest.advanceTimersByTime(10);
    m.markRead();
    jest.advanceTimersByTime(10);
    m.markWrite();
    expect(clock.created).toBe(created);
    expect(m.lastReadAt).toBe(1_000_010);
    expect(m.lastWriteAt).toBe(1_000_020);
  });

  it('repeats writer idle every interval while nothing is written', () => {
    create(0, 100).start();
    jest.advanceTimersByTime(350);
    expect(writerIdle.mock.calls).toEqual([[100], [200], [300]]);
  });

  it('restarts the writer counter from a ping written by the callback', () => {
    const m = create(0, 100);
    writerIdle.mockImplementation(() => m.markWrite());
    m.start();
    jest.advanceTimersByTime(50);
    m.markWrite(); // real traffic at t=50 moves the first deadline to 150
    jest.advanceTimersByTime(100);
    expect(writerIdle.mock.calls).toEqual([[100]]);
    jest.advanceTimersByTime(300);
    expect(writerIdle.mock.calls).toEqual([[100], [100], [100], [100]]);
    // One timer per idle period plus the early wake-up after the real write.
    expect(clock.created).toBeLessThanOrEqual(6);
  });

  it('repeats reader idle once per interval with a growing idle time, and restarts after a read', () => {
    const m = create(1000, 0);
    m.start();
    jest.advanceTimersByTime(3000);
    expect(readerIdle.mock.calls).toEqual([[1000], [2000], [3000]]);
    jest.advanceTimersByTime(500);
    m.markRead();
    jest.advanceTimersByTime(999);
    expect(readerIdle).toHaveBeenCalledTimes(3);
    jest.advanceTimersByTime(1);
    expect(readerIdle).toHaveBeenLastCalledWith(1000);
  });

  it('runs both directions on one timer', () => {
    const m = create(300, 100);
    writerIdle.mockImplementation(() => m.markWrite());
    m.start();
    jest.advanceTimersByTime(300);
    expect(writerIdle).toHaveBeenCalledTimes(3);
    expect(readerIdle).toHaveBeenCalledTimes(1);
    expect(clock.live).toBe(1);
  });

  it('fires nothing after stop(), also when stopped from a callback', () => {
    const m = create(100, 100);
    m.start();
    jest.advanceTimersByTime(50);
    m.stop();
    expect(m.running).toBe(false);
    expect(clock.live).toBe(0);
    jest.advanceTimersByTime(10_000);
    expect(readerIdle).not.toHaveBeenCalled();
    expect(writerIdle).not.toHaveBeenCalled();

    // Reader fires first in a turn; stopping there suppresses the writer callback due at the same time.
    readerIdle.mockImplementation(() => m.stop());
    m.start();
    jest.advanceTimersByTime(10_000);
    expect(readerIdle).toHaveBeenCalledTimes(1);
    expect(writerIdle).not.toHaveBeenCalled();
    expect(clock.live).toBe(0);
  });

  it('start() counts from now and is idempotent', () => {
    const m = create(100, 0);
    jest.advanceTimersByTime(500);
    m.start();
    m.start();
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(100);
    expect(readerIdle.mock.calls).toEqual([[100]]);
    m.stop();
    jest.advanceTimersByTime(1000);
    m.start();
    jest.advanceTimersByTime(100);
    expect(readerIdle.mock.calls).toEqual([[100], [100]]);
  });

  it('applies a runtime change of the interval', () => {
    const m = create(1000, 1000);
    m.start();
    jest.advanceTimersByTime(200);
    m.setWriterIdleMs(300); // deadline = last write (t=0) + 300
    jest.advanceTimersByTime(99);
    expect(writerIdle).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(writerIdle.mock.calls).toEqual([[300]]);
    expect(m.writerIdleMs).toBe(300);

    m.setReaderIdleMs(0); // off: t=1000 passes without a reader callback
    jest.advanceTimersByTime(800);
    expect(readerIdle).not.toHaveBeenCalled();
    expect(writerIdle).toHaveBeenCalledTimes(3);

    m.setWriterIdleMs(0);
    expect(clock.live).toBe(0);
    m.markRead(); // t=1100
    m.setReaderIdleMs(500);
    jest.advanceTimersByTime(500);
    expect(readerIdle.mock.calls).toEqual([[500]]);

    // A shorter interval whose deadline already passed fires on the next turn.
    jest.advanceTimersByTime(200); // t=1800, last read 1100, last reader fire 1600
    m.setReaderIdleMs(100);
    jest.advanceTimersByTime(0);
    expect(readerIdle.mock.calls).toEqual([[500], [700]]);
    expect(clock.live).toBe(1);
    expect(() => m.setReaderIdleMs(-5)).toThrow(/"readerIdleMs"/);
  });

  it('changing the interval from inside a callback leaves exactly one timer', () => {
    const m = create(0, 100);
    writerIdle.mockImplementationOnce(() => m.setWriterIdleMs(50));
    m.start();
    jest.advanceTimersByTime(100);
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(50);
    expect(writerIdle.mock.calls).toEqual([[100], [150]]);
  });

  it('keeps running when a callback throws', () => {
    const m = create(0, 100);
    writerIdle.mockImplementationOnce(() => {
      throw new Error('callback bug');
    });
    m.start();
    expect(() => jest.advanceTimersByTime(100)).toThrow('callback bug');
    expect(m.running).toBe(true);
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(100);
    expect(writerIdle).toHaveBeenCalledTimes(2);
  });

  it('ignores a stale timer callback that a non-cancelling clock still delivers', () => {
    const callbacks: (() => void)[] = [];
    const lazyClock: Clock = {
      now: () => 0,
      setTimeout: (callback) => {
        callbacks.push(callback);
        return callbacks.length;
      },
      clearTimeout: () => {}, // never cancels
    };
    const m = new IdleMonitor({ writerIdleMs: 100, onReaderIdle: readerIdle, onWriterIdle: writerIdle, clock: lazyClock });
    m.start();
    m.stop();
    callbacks[0]();
    m.start();
    m.setWriterIdleMs(200);
    callbacks[1](); // superseded by the setWriterIdleMs re-arm
    expect(writerIdle).not.toHaveBeenCalled();
  });
});
