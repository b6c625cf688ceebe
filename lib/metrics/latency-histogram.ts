/** One histogram bucket in a snapshot: cumulative count of observations `<= le`. */
export interface HistogramBucketSnapshot {
  /** Upper bound in ms as Prometheus writes it (`"2.5"`, `"+Inf"`). */
  le: string;
  /** Cumulative: observations less than or equal to the bound. */
  count: number;
}

/** Plain, JSON-serializable view of a latency histogram. All durations in ms. */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  /** Smallest / largest observation; `null` while empty. */
  min: number | null;
  max: number | null;
  /** Estimated from the buckets (see {@link estimateQuantile}); `null` while empty. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  buckets: HistogramBucketSnapshot[];
}

/**
 * Fixed-bucket latency histogram (ms). `observe()` allocates nothing: per-bucket counts live in a
 * typed array sized once, and the bucket is found by a linear scan (a handful of bounds, mostly
 * hit early, beats a binary search).
 */
export class LatencyHistogram {
  /** Non-cumulative counts; index `bounds.length` is the `+Inf` bucket. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(ms: number): void {
    // A clock step backwards or a NaN from a caller bug must not poison sum/quantiles.
    const value = ms > 0 ? ms : 0;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds another histogram with the same bounds into this one (for per-pattern aggregates). */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** Cumulative counts, aligned with `bounds` plus a final `+Inf` entry equal to `count`. */
  cumulative(): number[] {
    const out = new Array<number>(this.counts.length);
    let running = 0;
    for (let i = 0; i < this.counts.length; i++) {
      running += this.counts[i]!;
      out[i] = running;
    }
    return out;
  }

  quantile(q: number): number | null {
    return estimateQuantile(this.bounds, this.cumulative(), q, this.min, this.max);
  }

  snapshot(): HistogramSnapshot {
    const cumulative = this.cumulative();
    const empty = this.count === 0;
    return {
      count: this.count,
      sum: this.sum,
      min: empty ? null : this.min,
      max: empty ? null : this.max,
      p50: estimateQuantile(this.bounds, cumulative, 0.5, this.min, this.max),
      p90: estimateQuantile(this.bounds, cumulative, 0.9, this.min, this.max),
      p99: estimateQuantile(this.bounds, cumulative, 0.99, this.min, this.max),
      buckets: cumulative.map((count, i) => ({ le: formatBound(this.bounds[i]), count })),
    };
  }
}

/**
 * Quantile estimate from cumulative bucket counts, as Prometheus' `histogram_quantile()` does:
 * find the bucket holding rank `q × count` and interpolate linearly inside it (the first bucket
 * starts at 0). Differences: an estimate landing in `+Inf` returns the observed max instead of the
 * highest finite bound, and every estimate is clamped to the observed [min, max], which makes
 * sparse histograms (one slow call) read sensibly. `null` when there is no observation.
 */
export function estimateQuantile(
  bounds: readonly number[],
  cumulative: readonly number[],
  q: number,
  min = 0,
  max = Number.POSITIVE_INFINITY,
): number | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total === 0 || !(q >= 0 && q <= 1)) return null;
  const rank = q * total;
  let i = 0;
  while (i < cumulative.length - 1 && cumulative[i]! < rank) i++;
  if (i === bounds.length) return Number.isFinite(max) ? max : (bounds[i - 1] ?? null);
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const upper = bounds[i]!;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  const estimate = inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
  return clamp(estimate, min, max);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Prometheus spelling of a bucket bound: `+Inf` past the last finite bound. */
export function formatBound(bound: number | undefined): string {
  return bound === undefined || bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound);
}
