import { describe, expect, it } from '@jest/globals';
import { LeastActiveBalancer } from '../../../lib/balancer/index.js';
import {
  candidate,
  CHI_SQUARE_001,
  chiSquare,
  countPicks,
  inOrder,
  maxShareError,
  seededRandom,
  weighted,
  type TestCandidate,
} from './fixtures.js';

describe('LeastActiveBalancer', () => {
  it('returns undefined for no candidates and the only one for one, however busy', () => {
    const balancer = new LeastActiveBalancer(seededRandom(1));
    expect(balancer.pick([])).toBeUndefined();
    const only = candidate('a', 1, { inFlight: 1000 });
    expect(balancer.pick([only])).toBe(only);
  });

  it('always prefers the idle provider', () => {
    const candidates = [candidate('a', 10, { inFlight: 3 }), candidate('b', 1, { inFlight: 0 }), candidate('c', 10, { inFlight: 5 })];
    const counts = countPicks(new LeastActiveBalancer(seededRandom(2)), candidates, 1_000);
    expect(counts.get('b')).toBe(1_000);
  });

  it('breaks ties among the least active by weight (10,000 picks, share error < 1.5 points)', () => {
    const candidates = [
      candidate('a', 1, { inFlight: 2 }),
      candidate('b', 3, { inFlight: 2 }),
      candidate('c', 100, { inFlight: 3 }),
      candidate('d', 6, { inFlight: 2 }),
    ];
    const counts = countPicks(new LeastActiveBalancer(seededRandom(3)), candidates, 10_000);
    expect(counts.get('c')).toBe(0);
    const tied = [counts.get('a')!, counts.get('b')!, counts.get('d')!];
    expect(chiSquare(tied, [1, 3, 6])).toBeLessThan(CHI_SQUARE_001[2]);
    expect(maxShareError(tied, [1, 3, 6])).toBeLessThan(0.015);
  });

  it('with everyone idle follows the weights like weighted random, and is uniform for equal weights', () => {
    const candidates = weighted([1, 2, 3, 4]);
    const counts = inOrder(countPicks(new LeastActiveBalancer(seededRandom(4)), candidates, 10_000), candidates);
    expect(chiSquare(counts, [1, 2, 3, 4])).toBeLessThan(CHI_SQUARE_001[3]);
    expect(maxShareError(counts, [1, 2, 3, 4])).toBeLessThan(0.015);

    const equal = [candidate('a', 2, { inFlight: 1 }), candidate('b', 2, { inFlight: 1 }), candidate('c', 2, { inFlight: 1 })];
    const uniform = inOrder(countPicks(new LeastActiveBalancer(seededRandom(5)), equal, 9_000), equal);
    expect(maxShareError(uniform, [1, 1, 1])).toBeLessThan(0.015);
  });

  it('reads garbage in-flight counts (negative, NaN) as idle', () => {
    const candidates = [candidate('a', 1, { inFlight: 4 }), candidate('b', 1, { inFlight: Number.NaN }), candidate('c', 1, { inFlight: -3 })];
    const counts = countPicks(new LeastActiveBalancer(seededRandom(6)), candidates, 2_000);
    expect(counts.get('a')).toBe(0);
    expect(counts.get('b')! + counts.get('c')!).toBe(2_000);
  });

  it('sends less traffic to a slow provider whose calls pile up (simulation)', () => {
    // Each tick one call starts; a call to `slow` lasts 20 ticks, to the others 2.
    const latency: Record<string, number> = { slow: 20, fast1: 2, fast2: 2 };
    const active = new Map<string, number>(Object.keys(latency).map((id) => [id, 0]));
    const finishing: Array<{ at: number; id: string }> = [];
    const picks = new Map<string, number>();
    const balancer = new LeastActiveBalancer(seededRandom(8));
    for (let tick = 0; tick < 3_000; tick++) {
      for (let i = finishing.length - 1; i >= 0; i--) {
        if (finishing[i].at <= tick) {
          active.set(finishing[i].id, active.get(finishing[i].id)! - 1);
          finishing.splice(i, 1);
        }
      }
      const candidates: TestCandidate[] = Object.keys(latency).map((id) => candidate(id, 1, { inFlight: active.get(id)! }));
      const id = balancer.pick(candidates)!.instance.id;
      picks.set(id, (picks.get(id) ?? 0) + 1);
      active.set(id, active.get(id)! + 1);
      finishing.push({ at: tick + latency[id], id });
    }
    expect(picks.get('slow')!).toBeLessThan(3_000 / 6);
  });
});
