import { describe, expect, it } from '@jest/globals';
import { RetryBudget } from '../../../lib/routing/retry-budget.js';
import { resolveRetryBudgetOptions } from '../../../lib/routing/routing-options.js';
import { InvalidOptionsError } from '../../../lib/errors/invalid-options-error.js';
import { fakeClock } from './fake-clock.js';

const budget = (partial: Parameters<typeof resolveRetryBudgetOptions>[0], clock = fakeClock()) =>
  ({ clock, budget: new RetryBudget(resolveRetryBudgetOptions(partial, 'retryBudget'), clock) });

function acquireAll(b: RetryBudget, max = 10_000): number {
  let n = 0;
  while (n < max && b.tryAcquire()) n++;
  return n;
}

describe('RetryBudget', () => {
  it('allows the per-second minimum without any call', () => {
    const { budget: b } = budget({ ratio: 0.2, minRetriesPerSecond: 10 });
    expect(acquireAll(b)).toBe(10);
  });

  it('the minimum refills every second', () => {
    const { budget: b, clock } = budget({ ratio: 0, minRetriesPerSecond: 3 });
    expect(acquireAll(b)).toBe(3);
    clock.advance(1000);
    expect(acquireAll(b)).toBe(3);
  });

  it('allows ratio × calls over the window beyond the minimum', () => {
    const { budget: b } = budget({ ratio: 0.2, minRetriesPerSecond: 0 });
    for (let i = 0; i < 100; i++) b.recordCall();
    expect(acquireAll(b)).toBe(20);
    expect(b.window).toEqual({ calls: 100, retries: 20 });
  });

  it('the window slides: old calls and retries expire', () => {
    const { budget: b, clock } = budget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1000 });
    for (let i = 0; i < 10; i++) b.recordCall();
    expect(acquireAll(b)).toBe(5);
    clock.advance(500);
    for (let i = 0; i < 10; i++) b.recordCall();
    expect(acquireAll(b)).toBe(5); // 20 calls, 5 retries used → 5 more
    clock.advance(600); // the first 10 calls and 5 retries left the window
    expect(b.window).toEqual({ calls: 10, retries: 5 });
    expect(acquireAll(b)).toBe(0);
    clock.advance(10_000);
    expect(b.window).toEqual({ calls: 0, retries: 0 });
  });

  it('caps a retry storm: 1000 failing calls get ≤ 20 % + the minimum retried', () => {
    const { budget: b } = budget({});
    let retried = 0;
    for (let i = 0; i < 1000; i++) {
      b.recordCall();
      if (b.tryAcquire()) retried++;
    }
    expect(retried).toBeLessThanOrEqual(200 + 10);
    expect(retried).toBeGreaterThanOrEqual(200);
  });

  it('validates its options', () => {
    expect(() => resolveRetryBudgetOptions({ ratio: -1 }, 'retryBudget')).toThrow(InvalidOptionsError);
    expect(() => resolveRetryBudgetOptions({ bogus: 1 } as never, 'retryBudget')).toThrow(/retryBudget.bogus/);
  });
});
