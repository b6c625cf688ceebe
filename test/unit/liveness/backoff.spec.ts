import { describe, expect, it } from '@jest/globals';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import {
  DEFAULT_BACKOFF_OPTIONS,
  ExponentialBackoff,
  MAX_TIMER_DELAY_MS,
  resolveBackoffOptions,
} from '../../../lib/liveness/index.js';

const noJitter = (): number => 0.5;

function drain(backoff: ExponentialBackoff, limit = 1000): number[] {
  const delays: number[] = [];
  while (delays.length < limit) {
    const delay = backoff.next();
    if (delay === null) break;
    delays.push(delay);
  }
  return delays;
}

describe('resolveBackoffOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveBackoffOptions()).toEqual({ initialDelay: 100, factor: 2, maxDelay: 30_000, jitter: 0.2, maxAttempts: 12 });
    expect(resolveBackoffOptions({ initialDelay: undefined })).toEqual(DEFAULT_BACKOFF_OPTIONS);
  });

  it('names the bad field with the prefix', () => {
    expect(() => resolveBackoffOptions({ initialDelay: 0 })).toThrow(/"backoff\.initialDelay"/);
    expect(() => resolveBackoffOptions({ factor: 0.5 })).toThrow(/"backoff\.factor"/);
    expect(() => resolveBackoffOptions({ initialDelay: 500, maxDelay: 400 })).toThrow(/"backoff\.maxDelay".*\[500,/);
    expect(() => resolveBackoffOptions({ jitter: 1 })).toThrow(/"backoff\.jitter".*\[0, 1\)/);
    expect(() => resolveBackoffOptions({ jitter: -0.1 })).toThrow(/"backoff\.jitter"/);
    expect(() => resolveBackoffOptions({ maxAttempts: -1 })).toThrow(/"backoff\.maxAttempts"/);
    expect(() => resolveBackoffOptions({ maxAttempts: 1.5 })).toThrow(/"backoff\.maxAttempts"/);
    expect(() => resolveBackoffOptions({ maxDelay: MAX_TIMER_DELAY_MS + 1 })).toThrow(/"backoff\.maxDelay"/);
    expect(() => resolveBackoffOptions({ retryStrategy: 5 as never })).toThrow(/"backoff\.retryStrategy"/);
    expect(() => resolveBackoffOptions({ intialDelay: 5 } as never)).toThrow(/"backoff\.intialDelay".*unknown option/);
    expect(() => resolveBackoffOptions({ factor: 0 }, 'client.reconnect')).toThrow(/"client\.reconnect\.factor"/);
    expect(() => resolveBackoffOptions({ factor: 0 }, '')).toThrow(/"factor"/);
  });

  it('throws InvalidOptionsError with the field, and the constructor validates too', () => {
    let error: unknown;
    try {
      new ExponentialBackoff({ jitter: 2 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).field).toBe('backoff.jitter');
    expect((error as InvalidOptionsError).code).toBe('ERR_INVALID_OPTIONS');
  });

  it('accepts jitter 0, factor 1, maxDelay = initialDelay and unlimited attempts', () => {
    expect(resolveBackoffOptions({ jitter: 0, factor: 1, initialDelay: 50, maxDelay: 50, maxAttempts: 0 })).toEqual({
      initialDelay: 50,
      factor: 1,
      maxDelay: 50,
      jitter: 0,
      maxAttempts: 0,
    });
  });
});

describe('ExponentialBackoff', () => {
  it('doubles from initialDelay without jitter, capped at maxDelay, then is exhausted', () => {
    const backoff = new ExponentialBackoff({}, noJitter);
    expect(drain(backoff)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30_000, 30_000, 30_000]);
    expect(backoff.attempt).toBe(12);
    expect(backoff.exhausted).toBe(true);
    expect(backoff.exhaustedReason).toEqual({ kind: 'max-attempts', maxAttempts: 12 });
    // Stays exhausted; attempt does not keep counting.
    expect(backoff.next()).toBeNull();
    expect(backoff.attempt).toBe(12);
  });

  it('honours custom factor, cap and maxAttempts', () => {
    const backoff = new ExponentialBackoff({ initialDelay: 10, factor: 3, maxDelay: 100, maxAttempts: 5, jitter: 0 });
    expect(drain(backoff)).toEqual([10, 30, 90, 100, 100]);
  });

  it('never exhausts with maxAttempts 0 and survives factor^n overflowing', () => {
    const backoff = new ExponentialBackoff({ maxAttempts: 0, jitter: 0 });
    const delays = drain(backoff, 5000);
    expect(delays).toHaveLength(5000);
    expect(delays[4999]).toBe(30_000);
    expect(backoff.exhausted).toBe(false);
    expect(backoff.attempt).toBe(5000);
  });

  it('reset() starts over after exhaustion or success', () => {
    const backoff = new ExponentialBackoff({ maxAttempts: 2 }, noJitter);
    expect(drain(backoff)).toEqual([100, 200]);
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.exhaustedReason).toBeUndefined();
    expect(backoff.next()).toBe(100);
    expect(backoff.attempt).toBe(1);
  });

  it('keeps every jittered delay within ±jitter of nominal and the cap within maxDelay*(1+jitter)', () => {
    const backoff = new ExponentialBackoff({ maxAttempts: 0, jitter: 0.2 });
    const nominal = (n: number): number => Math.min(30_000, 100 * 2 ** (n - 1));
    let sawBelow = false;
    let sawAbove = false;
    const outOfBounds: string[] = [];
    for (let n = 1; n <= 20_000; n++) {
      const delay = backoff.next()!;
      const nom = nominal(n);
      if (!Number.isInteger(delay) || delay < Math.floor(nom * 0.8) || delay > nom * 1.2 || delay > 30_000 * 1.2) {
        outOfBounds.push(`attempt ${n}: ${delay} (nominal ${nom})`);
      }
      if (delay < nom * 0.9) sawBelow = true;
      if (delay > nom * 1.1) sawAbove = true;
    }
    expect(outOfBounds).toEqual([]);
    expect(sawBelow && sawAbove).toBe(true);
  });

  it('hits the jitter extremes with extreme random values and is never negative', () => {
    expect(new ExponentialBackoff({ jitter: 0.2 }, () => 0).next()).toBe(80);
    expect(new ExponentialBackoff({ jitter: 0.2 }, () => 0.999_999_999).next()).toBeLessThanOrEqual(120);
    expect(new ExponentialBackoff({ jitter: 0.2 }, () => 0.999_999_999).next()).toBeGreaterThanOrEqual(119);
    expect(new ExponentialBackoff({ jitter: 0.999, initialDelay: 1 }, () => 0).next()).toBe(0);
    // An injected source outside [0, 1) is clamped rather than trusted.
    expect(new ExponentialBackoff({ jitter: 0.5 }, () => -3).next()).toBe(50);
    expect(new ExponentialBackoff({ jitter: 0.5, maxDelay: 100 }, () => 7).next()).toBeLessThanOrEqual(150);
    const capped = new ExponentialBackoff({ jitter: 0.2, initialDelay: 1000, maxDelay: 1000, maxAttempts: 0 }, () => 0.999_999_999);
    for (let i = 0; i < 10; i++) expect(capped.next()).toBeLessThanOrEqual(1200);
  });

  it('spreads: two instances on Math.random do not produce the same sequence', () => {
    const a = drain(new ExponentialBackoff());
    const b = drain(new ExponentialBackoff());
    expect(a).toHaveLength(12);
    expect(b).toHaveLength(12);
    expect(a).not.toEqual(b);
  });

  describe('retryStrategy', () => {
    it('overrides the delays (1-based attempt, used as is) and maxAttempts', () => {
      const seen: number[] = [];
      const backoff = new ExponentialBackoff(
        {
          maxAttempts: 1,
          retryStrategy: (attempt) => {
            seen.push(attempt);
            return attempt <= 3 ? attempt * 1000 + 7 : null;
          },
        },
        () => 0,
      );
      expect(drain(backoff)).toEqual([1007, 2007, 3007]);
      expect(seen).toEqual([1, 2, 3, 4]);
      expect(backoff.attempt).toBe(3);
      expect(backoff.exhaustedReason).toEqual({ kind: 'strategy-gave-up', attempt: 4 });
      // Exhausted: the strategy is not consulted again until reset.
      expect(backoff.next()).toBeNull();
      expect(seen).toHaveLength(4);
      backoff.reset();
      expect(backoff.next()).toBe(1007);
      expect(seen).toEqual([1, 2, 3, 4, 1]);
    });

    it('gives up, keeping the error, when the strategy throws', () => {
      const boom = new Error('boom');
      const backoff = new ExponentialBackoff({
        retryStrategy: (attempt) => {
          if (attempt === 2) throw boom;
          return 5;
        },
      });
      expect(backoff.next()).toBe(5);
      expect(backoff.next()).toBeNull();
      expect(backoff.exhaustedReason).toEqual({ kind: 'strategy-threw', attempt: 2, error: boom });
      expect(backoff.attempt).toBe(1);
    });

    it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['100'], [undefined]])(
      'gives up on an invalid return value %p',
      (value) => {
        const backoff = new ExponentialBackoff({ retryStrategy: () => value as never });
        expect(backoff.next()).toBeNull();
        expect(backoff.exhaustedReason).toEqual({ kind: 'strategy-invalid', attempt: 1, value });
      },
    );

    it('accepts 0 and clamps a delay beyond the setTimeout limit', () => {
      expect(new ExponentialBackoff({ retryStrategy: () => 0 }).next()).toBe(0);
      expect(new ExponentialBackoff({ retryStrategy: () => 1e12 }).next()).toBe(MAX_TIMER_DELAY_MS);
    });
  });
});
