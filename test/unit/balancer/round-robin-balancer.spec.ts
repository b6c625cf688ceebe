import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SmoothRoundRobinBalancer } from '../../../lib/balancer/index.js';
import { candidate, countPicks, inOrder, weighted } from './fixtures.js';

function sequence(balancer: SmoothRoundRobinBalancer, candidates: Parameters<SmoothRoundRobinBalancer['pick']>[0], n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += balancer.pick(candidates)!.instance.id;
  return out;
}

describe('SmoothRoundRobinBalancer', () => {
  it('returns undefined for no candidates and the only one for one', () => {
    const balancer = new SmoothRoundRobinBalancer();
    expect(balancer.pick([])).toBeUndefined();
    const only = candidate('a');
    expect(balancer.pick([only])).toBe(only);
    expect(balancer.pick([only])).toBe(only);
  });

  it('interleaves weights {5, 1, 1} as nginx does: a a b a c a a, then again', () => {
    const balancer = new SmoothRoundRobinBalancer();
    expect(sequence(balancer, weighted([5, 1, 1]), 14)).toBe('aabacaa'.repeat(2));
  });

  it('gives exactly the weights over 10,000 picks (a whole number of rounds)', () => {
    const candidates = weighted([1, 2, 3, 4]);
    expect(inOrder(countPicks(new SmoothRoundRobinBalancer(), candidates, 10_000), candidates)).toEqual([1000, 2000, 3000, 4000]);
  });

  it('gives every candidate exactly its weight in every round of sum(weights) picks (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 6 }), (weights) => {
        const balancer = new SmoothRoundRobinBalancer();
        const candidates = weighted(weights);
        const round = weights.reduce((a, b) => a + b, 0);
        for (let r = 0; r < 3; r++) {
          expect(inOrder(countPicks(balancer, candidates, round), candidates)).toEqual(weights);
        }
      }),
    );
  });

  it('is plain round-robin for equal (or all-zero) weights and never picks weight 0 otherwise', () => {
    expect(sequence(new SmoothRoundRobinBalancer(), weighted([2, 2, 2]), 6)).toBe('abcabc');
    expect(sequence(new SmoothRoundRobinBalancer(), weighted([0, 0, 0]), 6)).toBe('abcabc');
    expect(sequence(new SmoothRoundRobinBalancer(), weighted([1, 0, 1]), 6)).toBe('acacac');
  });

  it('keys its state by instance id, not by candidate object', () => {
    const balancer = new SmoothRoundRobinBalancer();
    let out = '';
    // The router builds fresh candidate objects for every call.
    for (let i = 0; i < 7; i++) out += balancer.pick(weighted([5, 1, 1]))!.instance.id;
    expect(out).toBe('aabacaa');
  });

  it('drops the state of providers that left, and a returning one starts from 0', () => {
    const balancer = new SmoothRoundRobinBalancer();
    sequence(balancer, weighted([5, 1, 1]), 3);
    expect(balancer.trackedIds.sort()).toEqual(['a', 'b', 'c']);
    sequence(balancer, weighted([5, 1]), 1);
    expect(balancer.trackedIds.sort()).toEqual(['a', 'b']);
    balancer.pick([candidate('z')]);
    expect(balancer.trackedIds).toEqual([]);
  });

  it('follows weight changes from the registry', () => {
    const balancer = new SmoothRoundRobinBalancer();
    countPicks(balancer, weighted([1, 1]), 5);
    const after = weighted([3, 1]);
    expect(inOrder(countPicks(balancer, after, 4_000), after)).toEqual([3000, 1000]);
  });

  it('returns the caller’s own candidate object', () => {
    const candidates = weighted([1, 1]);
    const picked = new SmoothRoundRobinBalancer().pick(candidates);
    expect(candidates).toContain(picked);
    expect(picked!.connection).toBe('conn-a');
  });
});
