import { checkFunction, checkInteger, checkOptionsObject, checkNumber } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/**
 * User override of the delay computation, in the style of ioredis' `retryStrategy`.
 *
 * @param attempt 1-based number of the attempt about to be made (1 = first retry after a failure).
 * @returns the delay in ms before that attempt (a finite number >= 0, used as is: no jitter, no
 *   `maxDelay` cap; only clamped to the 2^31-1 ms setTimeout limit),
 *   or `null` to give up. Throwing, or returning anything else, also gives up; the reason is kept in
 *   {@link ExponentialBackoff.exhaustedReason}.
 */
export type RetryStrategy = (attempt: number) => number | null;

/** Exponential backoff with jitter used by the reconnect watchdog. */
export interface BackoffOptions {
  /**
   * Delay before the first attempt, in ms. At least 1 so that a run of failures can never become a
   * hot reconnect loop.
   * @default 100
   */
  initialDelay: number;
  /**
   * Multiplier applied to the delay after each attempt (1 = constant delay).
   * @default 2
   */
  factor: number;
  /**
   * Cap of the un-jittered delay, in ms; must be >= `initialDelay`. Jitter may take a delay up to
   * `maxDelay * (1 + jitter)`.
   * @default 30000
   */
  maxDelay: number;
  /**
   * Relative jitter in [0, 1): each delay is spread uniformly over ±`jitter` of its nominal value, so
   * that many clients which lost the same server do not reconnect in lock-step.
   * @default 0.2
   */
  jitter: number;
  /**
   * Attempts handed out before the backoff is exhausted (`next()` returns `null`).
   * `0` means unlimited: the watchdog keeps retrying at `maxDelay` forever.
   * Ignored when `retryStrategy` is set (the strategy decides when to give up).
   * @default 12
   */
  maxAttempts: number;
  /**
   * Replaces the built-in computation and `maxAttempts` entirely when set.
   * @default undefined (built-in exponential backoff)
   */
  retryStrategy?: RetryStrategy;
}

export const DEFAULT_BACKOFF_OPTIONS: Readonly<BackoffOptions> = Object.freeze({
  initialDelay: 100,
  factor: 2,
  maxDelay: 30_000,
  jitter: 0.2,
  maxAttempts: 12,
});

const KNOWN_KEYS: readonly (keyof BackoffOptions)[] = [
  'initialDelay',
  'factor',
  'maxDelay',
  'jitter',
  'maxAttempts',
  'retryStrategy',
];

/**
 * Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field
 * (`${fieldPrefix}.${field}`). A field explicitly set to `undefined` takes its default.
 */
export function resolveBackoffOptions(
  partial: Partial<BackoffOptions> = {},
  fieldPrefix = 'backoff',
): BackoffOptions {
  const name = (field: keyof BackoffOptions): string => (fieldPrefix ? `${fieldPrefix}.${field}` : field);
  checkOptionsObject(fieldPrefix || 'backoff', partial, KNOWN_KEYS);

  const initialDelay = checkInteger(
    name('initialDelay'),
    partial.initialDelay ?? DEFAULT_BACKOFF_OPTIONS.initialDelay,
    1,
    MAX_TIMER_DELAY_MS,
  );
  const factor = checkNumber(name('factor'), partial.factor ?? DEFAULT_BACKOFF_OPTIONS.factor, 1);
  const maxDelay = checkInteger(
    name('maxDelay'),
    partial.maxDelay ?? DEFAULT_BACKOFF_OPTIONS.maxDelay,
    initialDelay,
    MAX_TIMER_DELAY_MS,
  );
  const jitter = checkNumber(name('jitter'), partial.jitter ?? DEFAULT_BACKOFF_OPTIONS.jitter, 0, 1);
  if (jitter >= 1) {
    // jitter = 1 could produce a zero delay, i.e. an immediate retry storm.
    throw new InvalidOptionsError(name('jitter'), `expected a number in [0, 1), got ${jitter}`);
  }
  const maxAttempts = checkInteger(name('maxAttempts'), partial.maxAttempts ?? DEFAULT_BACKOFF_OPTIONS.maxAttempts, 0);

  const resolved: BackoffOptions = { initialDelay, factor, maxDelay, jitter, maxAttempts };
  if (partial.retryStrategy !== undefined) {
    resolved.retryStrategy = checkFunction<RetryStrategy>(name('retryStrategy'), partial.retryStrategy);
  }
  return resolved;
}
