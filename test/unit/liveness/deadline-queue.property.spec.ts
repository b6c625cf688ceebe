import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { DeadlineQueue } from '../../../lib/liveness/index.js';
import { countingClock, type CountingClock } from './counting-clock.js';

type Op = { kind: 'add'; key: number; offset: number } | { kind: 'delete'; key: number } | { kind: 'advance'; ms: number };

/** `scale` multiplies the add/delete weights relative to advances: larger = more keys pending. */
function ops(maxKey: number, maxOps: number, scale: number): fc.Arbitrary<Op[]> {
  const key = fc.integer({ min: 0, max: maxKey });
  return fc.array(
    fc.oneof(
      // Mostly the same timeout (FIFO path), sometimes shorter or already due (heap path).
      { weight: 3 * scale, arbitrary: fc.record({ kind: fc.constant('add' as const), key, offset: fc.constant(100) }) },
      { weight: 2 * scale, arbitrary: fc.record({ kind: fc.constant('add' as const), key, offset: fc.integer({ min: -5, max: 200 }) }) },
      { weight: 3 * scale, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 80 }) }) },
    ),
    { maxLength: maxOps },
  );
}

describe('DeadlineQueue against a naive model (property)', () => {
  let clock: CountingClock;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    clock = countingClock();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  function check(list: Op[]): void {
    const got: number[] = [];
    const queue = new DeadlineQueue<number>((key) => got.push(key), clock);
    const model = new Map<number, { deadline: number; seq: number }>();
    const want: number[] = [];
    let seq = 0;
    const expireModel = (now: number): void => {
      const due = [...model.entries()]
        .filter(([, v]) => v.deadline <= now)
        .sort(([, a], [, b]) => a.deadline - b.deadline || a.seq - b.seq);
      for (const [key] of due) {
        model.delete(key);
        want.push(key);
      }
    };
    for (const op of list) {
      const now = Date.now();
      if (op.kind === 'add') {
        queue.add(op.key, now + op.offset);
        model.set(op.key, { deadline: now + op.offset, seq: seq++ });
      } else if (op.kind === 'delete') {
        expect(queue.delete(op.key)).toBe(model.delete(op.key));
      } else {
        // Step 1 ms at a time so the model sees the same expiry passes as the queue.
        jest.advanceTimersByTime(0);
        expireModel(Date.now());
        for (let i = 0; i < op.ms; i++) {
          jest.advanceTimersByTime(1);
          expireModel(Date.now());
        }
      }
      expect(queue.size).toBe(model.size);
      // An emptied queue may leave its timer to lapse (reused by the next add): never more than one.
      expect(clock.live).toBe(queue.size > 0 ? 1 : clock.live);
      expect(clock.live).toBeLessThanOrEqual(1);
    }
    // Drain: everything left expires, in deadline order.
    jest.advanceTimersByTime(300);
    expireModel(Date.now());
    expect(got).toEqual(want);
    expect(queue.size).toBe(0);
    expect(clock.live).toBe(0);
  }

  it('small: few keys, frequent advances', () => {
    fc.assert(fc.property(ops(30, 150, 1), check), { numRuns: 200 });
  });

  it('large: hundreds of keys and deletes (exercises FIFO compaction and heap removal)', () => {
    fc.assert(fc.property(ops(400, 1500, 15), check), { numRuns: 40 });
  });
});
