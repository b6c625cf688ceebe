import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { WeightedRandomBalancer } from '../../../lib/balancer/index.js';
import {
  candidate,
  CHI_SQUARE_001,
  chiSquare,
  countPicks,
  inOrder,
  maxShareError,
  seededRandom,
  weighted,
} from './fixtures.js';

describe('WeightedRandomBalancer', () => {
  it('returns undefined for no candidates and the only one for one', () => {
    const balancer = new WeightedRandomBalancer(seededRandom(1));
    expect(balancer.pick([])).toBeUndefined();
    const only = candidate('a', 0);
    for (let i = 0; i < 100; i++) expect(balancer.pick([only])).toBe(only);
  });

  it('follows the weights over 10,000 picks (chi-square at α=0.001, share error < 1.5 points)', () => {
    const candidates = weighted([1, 2, 3, 4]);
    const counts = inOrder(countPicks(new WeightedRandomBalancer(seededRandom(42)), candidates, 10_000), candidates);
    expect(chiSquare(counts, [1, 2, 3, 4])).toBeLessThan(CHI_SQUARE_001[3]);
    expect(maxShareError(counts, [1, 2, 3, 4])).toBeLessThan(0.015);
  });

  it('is uniform for equal weights and for all-zero weights', () => {
    for (const w of [5, 0]) {
      const candidates = weighted([w, w, w, w, w]);
      const counts = inOrder(countPicks(new WeightedRandomBalancer(seededRandom(7)), candidates, 10_000), candidates);
      expect(chiSquare(counts, [1, 1, 1, 1, 1])).toBeLessThan(CHI_SQUARE_001[4]);
      expect(maxShareError(counts, [1, 1, 1, 1, 1])).toBeLessThan(0.015);
    }
  });

  it('never picks a weight-0 (or garbage-weight) candidate next to positive ones', () => {
    const candidates = [candidate('a', 0), candidate('b', 2), candidate('c', Number.NaN), candidate('d', -1), candidate('e', 1)];
    const counts = countPicks(new WeightedRandomBalancer(seededRandom(3)), candidates, 5_000);
    expect([counts.get('a'), counts.get('c'), counts.get('d')]).toEqual([0, 0, 0]);
  });

  it('prefers the effective weight (Candidate.weight) over the registry weight', () => {
    const candidates = [{ ...candidate('a', 1), weight: 9 }, candidate('b', 1)];
    const counts = inOrder(countPicks(new WeightedRandomBalancer(seededRandom(5)), candidates, 10_000), candidates);
    expect(maxShareError(counts, [9, 1])).toBeLessThan(0.015);
  });

  it('stays in range and on positive weights for any random value in [0, 1], including 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 10_000, noNaN: true })), { minLength: 2, maxLength: 20 }),
        fc.oneof(fc.constant(0), fc.constant(1), fc.constant(1 - Number.EPSILON), fc.double({ min: 0, max: 1, noNaN: true })),
        (weights, r) => {
          const candidates = weighted(weights);
          const picked = new WeightedRandomBalancer(() => r).pick(candidates);
          expect(candidates).toContain(picked);
          if (weights.some((w) => w > 0)) expect(picked!.instance.weight).toBeGreaterThan(0);
        },
      ),
    );
  });
});
