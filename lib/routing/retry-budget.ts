import { Clock, systemClock } from '../common/clock.js';
import { RetryBudgetOptions } from './routing-options.js';

const BUCKETS = 10;

/**
 * Caps retries so a failing dependency does not multiply the load (a retry storm): a retry is
 * allowed while retries stay under `ratio` × calls over a sliding window, or under
 * `minRetriesPerSecond` in the current second (so low-traffic clients can still retry).
 * Sliding window = ring of {@link BUCKETS} buckets; no timers, time is read from the clock.
 */
export class RetryBudget {
  private readonly bucketMs: number;
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private totalCalls = 0;
  private totalRetries = 0;
  private lastBucket: number;
  private second: number;
  private retriesThisSecond = 0;

  constructor(
    private readonly options: RetryBudgetOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(options.windowMs / BUCKETS));
    const now = clock.now();
    this.lastBucket = Math.floor(now / this.bucketMs);
    this.second = Math.floor(now / 1000);
  }

  /** One original call (not its retries) was made; `now` saves a clock read to a caller that has one. */
  recordCall(now = this.clock.now()): void {
    const slot = this.advance(now);
    this.calls[slot]++;
    this.totalCalls++;
  }

  /** Takes a retry from the budget; false when the budget is spent (fail the call instead). */
  tryAcquire(): boolean {
    const slot = this.advance();
    const second = Math.floor(this.clock.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.retriesThisSecond = 0;
    }
    const withinRatio = this.totalRetries < this.options.ratio * this.totalCalls;
    const withinMinimum = this.retriesThisSecond < this.options.minRetriesPerSecond;
    if (!withinRatio && !withinMinimum) return false;
    this.retries[slot]++;
    this.totalRetries++;
    this.retriesThisSecond++;
    return true;
  }

  /** Calls and retries counted in the current window (diagnostics, tests). */
  get window(): { calls: number; retries: number } {
    this.advance();
    return { calls: this.totalCalls, retries: this.totalRetries };
  }

  private advance(now = this.clock.now()): number {
    const bucket = Math.floor(now / this.bucketMs);
    if (bucket > this.lastBucket) {
      const stale = Math.min(BUCKETS, bucket - this.lastBucket);
      for (let i = 1; i <= stale; i++) {
        const slot = (this.lastBucket + i) % BUCKETS;
        this.totalCalls -= this.calls[slot];
        this.totalRetries -= this.retries[slot];
        this.calls[slot] = 0;
        this.retries[slot] = 0;
      }
      this.lastBucket = bucket;
    }
    return this.lastBucket % BUCKETS;
  }
}
