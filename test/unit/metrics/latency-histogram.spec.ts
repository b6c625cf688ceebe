import { describe, expect, it } from '@jest/globals';
import { DEFAULT_LATENCY_BUCKETS_MS, estimateQuantile, LatencyHistogram } from '../../../lib/metrics/index.js';

describe('LatencyHistogram', () => {
  it('puts each observation in the first bucket whose bound is >= it (le is inclusive)', () => {
    const h = new LatencyHistogram(DEFAULT_LATENCY_BUCKETS_MS);
    for (const ms of [0.3, 0.5, 0.7, 3, 3, 40, 20_000]) h.observe(ms);
    const snap = h.snapshot();
    expect(snap.count).toBe(7);
    expect(snap.sum).toBeCloseTo(20_047.5, 9);
    expect(snap.min).toBe(0.3);
    expect(snap.max).toBe(20_000);
    expect(Object.fromEntries(snap.buckets.map((b) => [b.le, b.count]))).toEqual({
      '0.5': 2,
      '1': 3,
      '2.5': 3,
      '5': 5,
      '10': 5,
      '25': 5,
      '50': 6,
      '100': 6,
      '250': 6,
      '500': 6,
      '1000': 6,
      '2500': 6,
      '5000': 6,
      '10000': 6,
      '+Inf': 7,
    });
  });

  it('counts negative and NaN durations as 0 instead of corrupting the sum', () => {
    const h = new LatencyHistogram([1, 2]);
    h.observe(-5);
    h.observe(Number.NaN);
    expect(h.sum).toBe(0);
    expect(h.cumulative()).toEqual([2, 2, 2]);
  });

  it('reports null quantiles and min/max while empty, and serializes to JSON', () => {
    const snap = new LatencyHistogram([1, 2]).snapshot();
    expect(snap).toEqual({
      count: 0,
      sum: 0,
      min: null,
      max: null,
      p50: null,
      p90: null,
      p99: null,
      buckets: [
        { le: '1', count: 0 },
        { le: '2', count: 0 },
        { le: '+Inf', count: 0 },
      ],
    });
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('merges histograms with the same bounds', () => {
    const a = new LatencyHistogram([1, 10]);
    const b = new LatencyHistogram([1, 10]);
    a.observe(0.5);
    b.observe(5);
    b.observe(50);
    a.merge(b);
    expect(a.cumulative()).toEqual([1, 2, 3]);
    expect(a.sum).toBe(55.5);
    expect([a.min, a.max]).toEqual([0.5, 50]);
  });
});

describe('quantile estimates', () => {
  const bounds = DEFAULT_LATENCY_BUCKETS_MS;

  it('interpolates linearly inside the bucket like histogram_quantile()', () => {
    const h = new LatencyHistogram(bounds);
    for (let ms = 1; ms <= 1000; ms++) h.observe(ms);
    // Uniform 1..1000: exact at bucket edges, interpolated inside (500, 1000].
    expect(h.quantile(0.5)).toBeCloseTo(500, 9);
    expect(h.quantile(0.99)).toBeCloseTo(990, 9);
    expect(h.quantile(0.9)).toBeCloseTo(900, 9);
  });

  it('matches the Prometheus formula without clamping', () => {
    // 50 calls in (2.5, 5], 50 in (25, 50].
    const h = new LatencyHistogram(bounds);
    for (let i = 0; i < 50; i++) h.observe(3);
    for (let i = 0; i < 50; i++) h.observe(30);
    const cumulative = h.cumulative();
    expect(estimateQuantile(bounds, cumulative, 0.5)).toBeCloseTo(5, 9);
    expect(estimateQuantile(bounds, cumulative, 0.99)).toBeCloseTo(25 + 25 * (49 / 50), 9);
    expect(estimateQuantile(bounds, cumulative, 0.25)).toBeCloseTo(2.5 + 2.5 * (25 / 50), 9);
    // Clamped to the observed range, the sparse tail reads as the real max.
    expect(h.quantile(0.99)).toBe(30);
    expect(h.snapshot().p50).toBeCloseTo(5, 9);
  });

  it('first bucket starts at 0; +Inf returns the observed max (or the last finite bound)', () => {
    expect(estimateQuantile([1, 2], [4, 4, 4], 0.5)).toBeCloseTo(0.5, 9);
    const slow = new LatencyHistogram([1, 2]);
    slow.observe(7);
    slow.observe(9);
    expect(slow.quantile(0.5)).toBe(9);
    expect(estimateQuantile([1, 2], [0, 0, 2], 0.5)).toBe(2);
  });

  it('rejects quantiles outside [0, 1]', () => {
    expect(estimateQuantile([1], [1, 1], 1.5)).toBeNull();
    expect(estimateQuantile([1], [1, 1], Number.NaN)).toBeNull();
  });
});
