import { resolveBackoffOptions, type BackoffOptions } from './backoff-options.js';
import { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/** Why {@link ExponentialBackoff.next} returned `null`. */
export type BackoffExhaustedReason =
  | { kind: 'max-attempts'; maxAttempts: number }
  | { kind: 'strategy-gave-up'; attempt: number }
  | { kind: 'strategy-threw'; attempt: number; error: unknown }
  | { kind: 'strategy-invalid'; attempt: number; value: unknown };

/**
 * Delays between reconnect attempts: `min(maxDelay, initialDelay * factor^(n-1))` for the n-th
 * attempt, spread uniformly over ±`jitter`. Pure state machine: it computes delays, the caller owns
 * the timer. Once exhausted it keeps returning `null` until {@link reset} (e.g. after a successful
 * connect).
 */
export class ExponentialBackoff {
  private readonly options: BackoffOptions;
  private attempts = 0;
  private reason: BackoffExhaustedReason | undefined;

  /**
   * @param random uniform source in [0, 1); injectable so tests can pin the jitter.
   * @throws InvalidOptionsError when an option is invalid (fields are named `backoff.*`).
   */
  constructor(
    options: Partial<BackoffOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = resolveBackoffOptions(options);
  }

  /** Attempts handed out since construction or the last {@link reset}. */
  get attempt(): number {
    return this.attempts;
  }

  get exhausted(): boolean {
    return this.reason !== undefined;
  }

  /** Set once {@link next} has returned `null`; cleared by {@link reset}. */
  get exhaustedReason(): BackoffExhaustedReason | undefined {
    return this.reason;
  }

  /** Delay in ms before the next attempt, or `null` when the backoff is exhausted. */
  next(): number | null {
    if (this.reason !== undefined) return null;
    const attempt = this.attempts + 1;
    const delay = this.options.retryStrategy ? this.fromStrategy(attempt) : this.computed(attempt);
    if (delay === null) return null;
    this.attempts = attempt;
    return delay;
  }

  /**
   * The delay between probes once the backoff is exhausted: `maxDelay` spread over ±`jitter`, so
   * that an evicted provider is still tried now and then without a storm.
   */
  probeDelay(): number {
    return this.jittered(this.options.maxDelay);
  }

  reset(): void {
    this.attempts = 0;
    this.reason = undefined;
  }

  private computed(attempt: number): number | null {
    const { initialDelay, factor, maxDelay, maxAttempts } = this.options;
    if (maxAttempts !== 0 && attempt > maxAttempts) {
      this.reason = { kind: 'max-attempts', maxAttempts };
      return null;
    }
    // factor^(n-1) overflows to Infinity after ~1000 unlimited attempts; min() absorbs it.
    return this.jittered(Math.min(maxDelay, initialDelay * Math.pow(factor, attempt - 1)));
  }

  private jittered(nominal: number): number {
    const jitter = this.options.jitter;
    if (jitter === 0) return nominal;
    const r = Math.min(Math.max(this.random(), 0), 1);
    // r in [0, 1) gives a spread in [-jitter, +jitter); floor keeps the result an integer that never
    // exceeds nominal * (1 + jitter) and, with jitter < 1, is never negative.
    return Math.floor(nominal * (1 + jitter * (2 * r - 1)));
  }

  private fromStrategy(attempt: number): number | null {
    let value: unknown;
    try {
      value = this.options.retryStrategy!(attempt);
    } catch (error) {
      // A bug in user code must stop the watchdog, not crash the process from a timer callback.
      this.reason = { kind: 'strategy-threw', attempt, error };
      return null;
    }
    if (value === null) {
      this.reason = { kind: 'strategy-gave-up', attempt };
      return null;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      this.reason = { kind: 'strategy-invalid', attempt, value };
      return null;
    }
    // Node would turn a larger setTimeout delay into 1 ms: the opposite of what the user asked for.
    return Math.min(value, MAX_TIMER_DELAY_MS);
  }
}
