import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Clock } from '../../../lib/common/clock.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import { DeadlineQueue } from '../../../lib/liveness/index.js';
import { countingClock, type CountingClock } from './counting-clock.js';

describe('DeadlineQueue', () => {
  let clock: CountingClock;
  let expired: string[];
  let queue: DeadlineQueue<string>;
  const T0 = 1_000_000;

  beforeEach(() => {
    // `performance` stays real so the speed test measures wall time.
    jest.useFakeTimers({ now: T0, doNotFake: ['performance'] });
    clock = countingClock();
    expired = [];
    queue = new DeadlineQueue<string>((key) => expired.push(key), clock);
  });

  afterEach(() => {
    queue.clear();
    expect(clock.live).toBe(0);
    jest.useRealTimers();
  });

  it('expires each key at its deadline, earliest first, ties in insertion order', () => {
    queue.add('c', T0 + 300);
    queue.add('a', T0 + 100);
    queue.add('b1', T0 + 200);
    queue.add('b2', T0 + 200);
    queue.add('d', T0 + 300);
    expect(queue.size).toBe(5);
    expect(queue.nextDeadline).toBe(T0 + 100);
    jest.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual(['a', 'b1', 'b2']);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual(['a', 'b1', 'b2', 'c', 'd']);
    expect(queue.size).toBe(0);
    expect(queue.nextDeadline).toBeUndefined();
    expect(clock.live).toBe(0);
  });

  it('expires already-past deadlines on the next turn, all in one pass', () => {
    queue.add('x', T0 - 50);
    queue.add('y', T0 - 100);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(0);
    expect(expired).toEqual(['y', 'x']);
  });

  it('delete before expiry prevents the callback', () => {
    queue.add('a', T0 + 100);
    queue.add('b', T0 + 100);
    expect(queue.delete('a')).toBe(true);
    expect(queue.delete('a')).toBe(false);
    expect(queue.has('a')).toBe(false);
    expect(queue.has('b')).toBe(true);
    jest.advanceTimersByTime(1000);
    expect(expired).toEqual(['b']);
  });

  it('lets its timer lapse without effect when the last key is deleted', () => {
    queue.add('a', T0 + 100);
    expect(clock.live).toBe(1);
    queue.delete('a');
    jest.advanceTimersByTime(1000);
    expect(expired).toEqual([]);
    expect(clock.live).toBe(0);
    expect(clock.created).toBe(1);
  });

  it('calls one at a time reuse one timer per timeout period, not one per call', () => {
    // The queue empties after every call; each add is later than the armed timer, which is kept.
    for (let i = 0; i < 1000; i++) {
      queue.add(`k${i}`, Date.now() + 5000);
      jest.advanceTimersByTime(10);
      queue.delete(`k${i}`);
    }
    // 10 s of calls with a 5 s timeout: the first timer, and one re-arm each time it fires.
    expect(clock.created).toBeLessThanOrEqual(3);
    expect(clock.cleared).toBe(0);
    queue.add('late', Date.now() + 5000);
    jest.advanceTimersByTime(4999);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['late']);
  });

  it('re-adding a key replaces its deadline', () => {
    queue.add('a', T0 + 100);
    queue.add('b', T0 + 150);
    queue.add('a', T0 + 200);
    expect(queue.size).toBe(2);
    jest.advanceTimersByTime(150);
    expect(expired).toEqual(['b']);
    jest.advanceTimersByTime(50);
    expect(expired).toEqual(['b', 'a']);
    queue.add('c', T0 + 1000);
    queue.add('c', T0 + 250);
    jest.advanceTimersByTime(50);
    expect(expired).toEqual(['b', 'a', 'c']);
  });

  it('re-arms only for an earlier deadline', () => {
    queue.add('a', T0 + 500);
    queue.add('b', T0 + 600);
    queue.add('c', T0 + 500);
    expect(clock.created).toBe(1);
    queue.add('d', T0 + 100);
    expect(clock.created).toBe(2);
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual(['d']);
  });

  it('handles re-entrant add, delete and clear inside the callback', () => {
    const log: string[] = [];
    const q = new DeadlineQueue<string>((key) => {
      log.push(key);
      if (key === 'a') {
        q.delete('b'); // due in the same pass: must not fire
        q.add('retry-a', T0 + 150); // future: expires later
        q.add('now', T0); // already due: deferred to the next turn, not this pass
        expect(q.size).toBe(4); // c, d, retry-a, now
        expect(q.has('now')).toBe(true);
        expect(q.nextDeadline).toBe(T0);
      }
      if (key === 'c') {
        q.add('again', T0 + 100); // due, but only on the next turn
        q.delete('again');
        q.add('again', T0 + 100);
        q.delete('now');
        q.add('now', T0); // re-added: now after 'again' in insertion order, still earlier deadline
        expect(q.nextDeadline).toBe(T0);
      }
    }, clock);
    q.add('a', T0 + 100);
    q.add('b', T0 + 100);
    q.add('c', T0 + 100);
    q.add('d', T0 + 300);
    jest.advanceTimersByTime(100);
    expect(log).toEqual(['a', 'c']);
    // Like Node (which turns setTimeout(0) into 1 ms), fake timers run a 0 ms timer created inside a
    // timer callback 1 ms later.
    jest.advanceTimersByTime(1);
    expect(log).toEqual(['a', 'c', 'now', 'again']);
    expect(q.size).toBe(2);
    jest.advanceTimersByTime(199);
    expect(log).toEqual(['a', 'c', 'now', 'again', 'retry-a', 'd']);
    expect(clock.live).toBe(0);

    // clear() from inside a callback ends the pass and drops keys added during it.
    const cleared: string[] = [];
    const q2 = new DeadlineQueue<string>((key) => {
      cleared.push(key);
      q2.add('during', T0);
      q2.clear();
    }, clock);
    q2.add('x', T0 + 400);
    q2.add('y', T0 + 400);
    jest.advanceTimersByTime(1000);
    expect(cleared).toEqual(['x']);
    expect(q2.size).toBe(0);
  });

  it('a callback that keeps re-adding a due key cannot spin a single pass', () => {
    let calls = 0;
    const q = new DeadlineQueue<string>((key) => {
      calls++;
      if (calls < 5) q.add(key, 0);
    }, clock);
    q.add('k', T0);
    jest.advanceTimersByTime(0);
    expect(calls).toBe(1);
    jest.advanceTimersByTime(1);
    jest.advanceTimersByTime(1);
    expect(calls).toBe(3);
    jest.advanceTimersByTime(10);
    expect(calls).toBe(5);
    expect(q.size).toBe(0);
  });

  it('keeps working after a callback throws; the rest of the batch expires on the next turn', () => {
    const log: string[] = [];
    const q = new DeadlineQueue<string>((key) => {
      log.push(key);
      if (key === 'a') throw new Error('callback bug');
    }, clock);
    q.add('a', T0 + 10);
    q.add('b', T0 + 10);
    expect(() => jest.advanceTimersByTime(10)).toThrow('callback bug');
    expect(log).toEqual(['a']);
    expect(q.size).toBe(1);
    jest.advanceTimersByTime(1);
    expect(log).toEqual(['a', 'b']);
    expect(q.size).toBe(0);
  });

  it('clear() forgets everything and cancels the timer; the queue stays usable', () => {
    queue.add('a', T0 + 100);
    queue.add('b', T0 + 50);
    queue.clear();
    expect(queue.size).toBe(0);
    expect(clock.live).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(expired).toEqual([]);
    queue.add('c', T0 + 1100);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual(['c']);
  });

  it('rejects a non-finite deadline', () => {
    expect(() => queue.add('a', Number.NaN)).toThrow(InvalidOptionsError);
    expect(() => queue.add('a', Number.POSITIVE_INFINITY)).toThrow(/"deadlineMs"/);
    expect(queue.size).toBe(0);
  });

  it('uses a clamped timer for deadlines beyond the 2^31-1 ms setTimeout limit', () => {
    const delays: number[] = [];
    const spy: Clock = { ...clock, setTimeout: (cb, ms) => (delays.push(ms), clock.setTimeout(cb, ms)) };
    const q = new DeadlineQueue<string>((key) => expired.push(key), spy);
    q.add('far', T0 + 3_000_000_000);
    expect(delays).toEqual([2_147_483_647]);
    q.clear();
  });

  it('10,000 equal-timeout keys use O(1) timers and expire together', () => {
    for (let i = 0; i < 10_000; i++) queue.add(`k${i}`, T0 + 5000);
    expect(clock.created).toBe(1);
    jest.advanceTimersByTime(5000);
    expect(expired).toHaveLength(10_000);
    expect(expired[0]).toBe('k0');
    expect(expired[9999]).toBe('k9999');
    expect(clock.created).toBe(1);
  });

  it('10,000 staggered keys: one timer armed, each fire touches only the due keys', () => {
    // Calls issued 1 ms apart with a 30 s timeout; most complete, a few time out.
    for (let i = 0; i < 10_000; i++) {
      queue.add(`k${i}`, T0 + i + 30_000);
      if (i % 100 !== 0) queue.delete(`k${i - 1}`);
    }
    expect(clock.created).toBe(1);
    expect(queue.size).toBeLessThan(200);
    jest.advanceTimersByTime(30_000 + 10_000);
    expect(queue.size).toBe(0);
    // k99, k199, ..., k9899 and the last one were never deleted.
    expect(expired).toEqual([...Array.from({ length: 99 }, (_, j) => `k${j * 100 + 99}`), 'k9999']);
    // One timer per expiry wake-up plus one early wake-up for the deleted head, never one per key.
    expect(clock.created).toBeLessThanOrEqual(expired.length + 2);
  });

  it('expires the right keys at the right time after many deletes from the middle (compaction)', () => {
    const survivors: string[] = [];
    for (let i = 0; i < 1000; i++) queue.add(`k${i}`, T0 + 1000 + i);
    for (let i = 0; i < 1000; i++) {
      // Delete 9 out of 10, scattered, so tombstones pile up in the middle before the head moves.
      if ((i * 7) % 10 === 3) survivors.push(`k${i}`);
      else queue.delete(`k${i}`);
    }
    expect(queue.size).toBe(100);
    for (let i = 0; i < 100; i++) queue.add(`late${i}`, T0 + 2000 + i);
    jest.advanceTimersByTime(1000 + 499);
    expect(expired).toEqual(survivors.filter((k) => Number(k.slice(1)) <= 499));
    jest.advanceTimersByTime(1000 + 100);
    expect(expired).toEqual([...survivors, ...Array.from({ length: 100 }, (_, i) => `late${i}`)]);
  });

  it('stays fast with 10,000 mostly-later keys and frequent fires (sanity bound)', () => {
    // Interleave out-of-order deadlines (heap path) with in-order ones (FIFO path).
    for (let i = 0; i < 10_000; i++) queue.add(`k${i}`, T0 + 10_000 + i * 10 - (i % 3 === 0 ? 5_000 : 0));
    const started = performance.now();
    for (let t = 0; t < 200; t++) jest.advanceTimersByTime(50);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(expired.length).toBeGreaterThan(0);
    expect(queue.size).toBe(10_000 - expired.length);
  });

  it('keeps a value with each key: get, take, and the expiry callback see it', () => {
    const seen: Array<[number, string]> = [];
    const q = new DeadlineQueue<number, { name: string }>((key, value) => seen.push([key, value.name]), clock);
    q.add(1, T0 + 100, { name: 'one' });
    q.add(2, T0 + 200, { name: 'two' });
    q.add(3, T0 + 50, { name: 'three' }); // out of order: the heap path
    expect(q.get(2)).toEqual({ name: 'two' });
    expect(q.take(2)).toEqual({ name: 'two' });
    expect(q.take(2)).toBeUndefined();
    expect(q.get(2)).toBeUndefined();
    q.add(1, T0 + 150, { name: 'one again' }); // replacing a key replaces its value too
    const values: string[] = [];
    q.forEach((value) => values.push(value.name));
    expect(values.sort()).toEqual(['one again', 'three']);
    jest.advanceTimersByTime(300);
    expect(seen).toEqual([
      [3, 'three'],
      [1, 'one again'],
    ]);
    expect(q.size).toBe(0);
  });
});

describe('DeadlineQueue memory', () => {
  it('a deleted key keeps nothing alive, even while its FIFO slot awaits compaction', async () => {
    // A leak found by the bench: tombstones held finished calls' observers, and through them
    // each call's promise and its (16 KiB) answer, past young-generation GCs.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const queue = new DeadlineQueue<number, { payload: string }>(() => undefined);
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 40; i++) {
      const value = { payload: `answer ${i}` };
      refs.push(new WeakRef(value));
      queue.add(i, Date.now() + 60_000, value);
    }
    // Fewer deletes than the compaction threshold: the first 30 FIFO slots stay as tombstones.
    for (let i = 0; i < 30; i++) queue.take(i);
    // WeakRef targets stay alive until the job that created them ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.slice(0, 30).filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(refs.slice(30).every((r) => r.deref() !== undefined)).toBe(true);
    queue.clear();
  });
});
