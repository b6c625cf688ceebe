/**
 * Closed-loop driver: `concurrency` workers each issue the next call as soon as the previous one
 * completes, over a warm-up phase and then a measured phase. Latency goes into an HDR histogram
 * in microseconds.
 */
import { performance } from 'node:perf_hooks';
import { build, type Histogram } from 'hdr-histogram-js';

export interface LoopOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** How long in-flight calls may take to finish after the measured phase. */
  readonly drainTimeoutMs?: number;
  /** Called as the measured phase starts and as it ends (e.g. to sample CPU time). */
  readonly onMeasure?: (edge: 'start' | 'end') => void;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoopResult {
  /** Calls completed during the measured phase. */
  readonly requests: number;
  /** Actual length of the measured phase. */
  readonly elapsedMs: number;
  readonly reqPerSec: number;
  /** Microseconds, for calls that started inside the measured phase. */
  readonly latencyUs: LatencySummary;
  /** First failure; the loop stops at the first failed call. */
  readonly error?: string;
}

type Phase = 'warmup' | 'measure' | 'stop';

const HIGHEST_TRACKABLE_US = 60_000_000;

export async function runClosedLoop(call: () => Promise<unknown>, opts: LoopOptions): Promise<LoopResult> {
  const histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
  });
  let phase: Phase = 'warmup';
  let measureStart = Number.POSITIVE_INFINITY;
  let measureEnd = 0;
  let requests = 0;
  let error: string | undefined;

  const stop = (): void => {
    if (phase === 'stop') return;
    if (phase === 'measure') {
      measureEnd = performance.now();
      opts.onMeasure?.('end');
    }
    phase = 'stop';
    clearTimeout(warmupTimer);
    clearTimeout(measureTimer);
  };
  let measureTimer: NodeJS.Timeout | undefined;
  const warmupTimer = setTimeout(() => {
    phase = 'measure';
    opts.onMeasure?.('start');
    measureStart = performance.now();
    measureTimer = setTimeout(stop, opts.durationMs);
  }, opts.warmupMs);

  const worker = async (): Promise<void> => {
    while (phase !== 'stop') {
      const t0 = performance.now();
      try {
        await call();
      } catch (err) {
        error ??= errorMessage(err);
        stop();
        return;
      }
      if (phase === 'measure') {
        requests++;
        if (t0 >= measureStart) {
          const us = Math.round((performance.now() - t0) * 1000);
          histogram.recordValue(Math.min(Math.max(us, 1), HIGHEST_TRACKABLE_US));
        }
      }
    }
  };

  const workers = Promise.all(Array.from({ length: opts.concurrency }, worker));
  const drained = await settleWithin(workers, opts.warmupMs + opts.durationMs + (opts.drainTimeoutMs ?? 10_000));
  if (!drained) {
    stop();
    error ??= 'calls still in flight long after the measured phase ended (hung transport?)';
  }

  const elapsedMs = measureEnd > measureStart ? measureEnd - measureStart : 0;
  const count = histogram.totalCount;
  const at = (p: number): number => (count ? histogram.getValueAtPercentile(p) : 0);
  const result: LoopResult = {
    requests,
    elapsedMs,
    reqPerSec: elapsedMs > 0 ? (requests * 1000) / elapsedMs : 0,
    latencyUs: {
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: count ? histogram.maxValue : 0,
      mean: count ? histogram.mean : 0,
    },
    ...(error !== undefined ? { error } : {}),
  };
  histogram.destroy();
  return result;
}

function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null) return JSON.stringify(err);
  return String(err);
}
