import { Clock, systemClock } from '../common/clock.js';
import { OutlierDetectionOptions } from './routing-options.js';

interface ProviderStats {
  successes: number;
  failures: number;
  /** 0 when not ejected. */
  ejectedUntil: number;
  timesEjected: number;
}

/**
 * gRPC-style failure-percentage outlier ejection. Callers report each call's outcome per provider;
 * every `intervalMs` (evaluated lazily on the next report or query, so no timer to clean up) a
 * provider with ≥ `minRequests` calls and a failure rate ≥ `failureThreshold`, while the other
 * providers stay below it, is ejected for `baseEjectionMs × timesEjected` (capped). When that
 * time is over it is back in rotation ("probed"): failing again ejects it for longer, staying
 * healthy decays its ejection count. At most `maxEjectionPercent` of the providers are ejected.
 */
export class OutlierDetector {
  private readonly stats = new Map<string, ProviderStats>();
  private nextEvaluation: number;
  private changes = 0;

  constructor(
    private readonly options: OutlierDetectionOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.nextEvaluation = clock.now() + options.intervalMs;
  }

  /** One call to `provider` ended; `ok` false for connection-level failures and timeouts only. */
  record(provider: string, ok: boolean): void {
    this.tick();
    let s = this.stats.get(provider);
    if (!s) {
      s = { successes: 0, failures: 0, ejectedUntil: 0, timesEjected: 0 };
      this.stats.set(provider, s);
    }
    if (ok) s.successes++;
    else s.failures++;
  }

  /** Moves whenever a provider is ejected or let back in: lists built from isEjected() are current while it does not. */
  get generation(): number {
    return this.changes;
  }

  /** Whether the router should skip `provider` (it still uses it when nothing else is available). */
  isEjected(provider: string): boolean {
    const s = this.stats.get(provider);
    return s !== undefined && s.ejectedUntil !== 0;
  }

  /** Runs the evaluation when an interval has passed; cheap otherwise. Call before a series of isEjected(). */
  tick(): void {
    const now = this.clock.now();
    if (now < this.nextEvaluation) return;
    this.nextEvaluation = now + this.options.intervalMs;
    this.evaluate(now);
  }

  /** The provider left the directory: forget it. */
  forget(provider: string): void {
    if (this.stats.get(provider)?.ejectedUntil) this.changes++;
    this.stats.delete(provider);
  }

  /** Providers currently ejected (diagnostics, tests). */
  ejected(): string[] {
    return [...this.stats].filter(([, s]) => s.ejectedUntil !== 0).map(([id]) => id);
  }

  private evaluate(now: number): void {
    const o = this.options;
    let ejectedCount = 0;
    for (const s of this.stats.values()) {
      if (s.ejectedUntil !== 0 && now >= s.ejectedUntil) {
        s.ejectedUntil = 0;
        this.changes++;
      } else if (s.ejectedUntil === 0 && s.timesEjected > 0 && s.failures === 0) s.timesEjected--;
      if (s.ejectedUntil !== 0) ejectedCount++;
    }
    const maxEjected = Math.floor((this.stats.size * o.maxEjectionPercent) / 100);
    for (const [id, s] of this.stats) {
      if (ejectedCount >= maxEjected) break;
      const total = s.successes + s.failures;
      if (s.ejectedUntil !== 0 || total < o.minRequests || s.failures / total < o.failureThreshold) continue;
      if (!this.othersHealthy(id)) continue;
      s.timesEjected++;
      s.ejectedUntil = now + Math.min(o.maxEjectionMs, o.baseEjectionMs * s.timesEjected);
      ejectedCount++;
      this.changes++;
    }
    for (const s of this.stats.values()) {
      s.successes = 0;
      s.failures = 0;
    }
  }

  /**
   * "Far above the others": the other providers in rotation that had calls failed below the
   * threshold together. When everyone fails the trouble is not one provider, and ejecting
   * would only concentrate load.
   */
  private othersHealthy(id: string): boolean {
    let successes = 0;
    let failures = 0;
    for (const [other, s] of this.stats) {
      if (other === id || s.ejectedUntil !== 0) continue;
      successes += s.successes;
      failures += s.failures;
    }
    const total = successes + failures;
    return total > 0 && failures / total < this.options.failureThreshold;
  }
}
