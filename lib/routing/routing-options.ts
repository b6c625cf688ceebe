import { checkInteger, checkOptionsObject, checkNumber } from '../common/option-checks.js';

/** How many retries a client may make relative to its calls (see {@link RetryBudget}). */
export interface RetryBudgetOptions {
  /**
   * Retries allowed as a fraction of the calls made over the window.
   * @default 0.2
   */
  ratio: number;
  /**
   * Retries always allowed per second, whatever the traffic (so a quiet client can still fail over).
   * @default 10
   */
  minRetriesPerSecond: number;
  /**
   * Length of the sliding window in ms.
   * @default 10000
   */
  windowMs: number;
}

export const DEFAULT_RETRY_BUDGET_OPTIONS: Readonly<RetryBudgetOptions> = Object.freeze({
  ratio: 0.2,
  minRetriesPerSecond: 10,
  windowMs: 10_000,
});

/**
 * gRPC-style outlier ejection (failure-percentage): providers whose calls fail at the transport
 * level far more often than the others' are skipped for a while.
 */
export interface OutlierDetectionOptions {
  /**
   * How often failure rates are evaluated (and ejections lifted), in ms.
   * @default 10000
   */
  intervalMs: number;
  /**
   * Ejection time for a first ejection; multiplied by the number of times the provider was ejected.
   * @default 30000
   */
  baseEjectionMs: number;
  /**
   * Cap of the ejection time.
   * @default 300000
   */
  maxEjectionMs: number;
  /**
   * Failure fraction (connection-level failures and timeouts / calls) at or above which a provider is an outlier.
   * @default 0.5
   */
  failureThreshold: number;
  /**
   * Calls a provider must have had within the interval to be judged.
   * @default 10
   */
  minRequests: number;
  /**
   * At most this percentage of the tracked providers is ejected at once.
   * @default 50
   */
  maxEjectionPercent: number;
}

export const DEFAULT_OUTLIER_DETECTION_OPTIONS: Readonly<OutlierDetectionOptions> = Object.freeze({
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  failureThreshold: 0.5,
  minRequests: 10,
  maxEjectionPercent: 50,
});

export function resolveRetryBudgetOptions(partial: Partial<RetryBudgetOptions>, field: string): RetryBudgetOptions {
  checkOptionsObject(field, partial, Object.keys(DEFAULT_RETRY_BUDGET_OPTIONS));
  const o = { ...DEFAULT_RETRY_BUDGET_OPTIONS, ...stripUndefined(partial) };
  checkNumber(`${field}.ratio`, o.ratio, 0, 10);
  checkNumber(`${field}.minRetriesPerSecond`, o.minRetriesPerSecond, 0, 1_000_000);
  checkInteger(`${field}.windowMs`, o.windowMs, 10);
  return o;
}

export function resolveOutlierDetectionOptions(
  partial: Partial<OutlierDetectionOptions>,
  field: string,
): OutlierDetectionOptions {
  checkOptionsObject(field, partial, Object.keys(DEFAULT_OUTLIER_DETECTION_OPTIONS));
  const o = { ...DEFAULT_OUTLIER_DETECTION_OPTIONS, ...stripUndefined(partial) };
  checkInteger(`${field}.intervalMs`, o.intervalMs, 1);
  checkInteger(`${field}.baseEjectionMs`, o.baseEjectionMs, 1);
  checkInteger(`${field}.maxEjectionMs`, o.maxEjectionMs, o.baseEjectionMs);
  checkNumber(`${field}.failureThreshold`, o.failureThreshold, 0.01, 1);
  checkInteger(`${field}.minRequests`, o.minRequests, 1);
  checkNumber(`${field}.maxEjectionPercent`, o.maxEjectionPercent, 0, 100);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
