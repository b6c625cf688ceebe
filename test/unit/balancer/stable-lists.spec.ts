import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  ConsistentHashBalancer,
  LeastActiveBalancer,
  SmoothRoundRobinBalancer,
  WarmupBalancer,
  WeightedRandomBalancer,
  type Balancer,
  type Candidate,
} from '../../../lib/balancer/index.js';
import { HashRing } from '../../../lib/balancer/hash-ring.js';
import { LEAST_ACTIVE_SCAN_LIMIT } from '../../../lib/balancer/least-active-balancer.js';
import { candidate, manualClock, seededRandom, type TestCandidate } from './fixtures.js';

/**
 * Issue 19: the router hands its balancer frozen lists, cached between changes, and the built-in
 * balancers keep what they derive from them (weight sums, rotation scores in arrays, the hash ring,
 * ramped weights). These tests hold the cached paths to the picks of the uncached ones.
 */

/** A list of providers p0…p(n-1) with the given weights (ids may repeat through `ids`). */
function list(weights: readonly number[], ids?: readonly string[]): TestCandidate[] {
  return weights.map((w, i) => candidate(ids?.[i] ?? `p${i}`, w));
}

/** The same picks, one balancer fed the frozen list, the other a fresh copy each time. */
function samePicks(make: () => Balancer, lists: readonly (readonly TestCandidate[])[], picksPerList: number, key?: (i: number) => string): void {
  const cached = make();
  const uncached = make();
  let i = 0;
  for (const l of lists) {
    const frozen = Object.freeze([...l]);
    for (let k = 0; k < picksPerList; k++, i++) {
      const context = key ? { hashKey: key(i) } : undefined;
      const a = cached.pick(frozen, context);
      const b = uncached.pick([...l], context);
      expect(a && frozen.indexOf(a)).toBe(b && l.indexOf(b));
    }
  }
}

const weights = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.double({ min: 0.1, max: 5, noNaN: true })), {
  minLength: 2,
  maxLength: 40,
});

describe('balancers on frozen lists pick exactly as on plain ones', () => {
  it('weighted random: the running sums found by binary search are the ones the walk finds', () => {
    fc.assert(
      fc.property(fc.array(weights, { minLength: 1, maxLength: 4 }), fc.integer(), (lists, seed) => {
        samePicks(() => new WeightedRandomBalancer(seededRandom(seed)), lists.map((w) => list(w)), 50);
      }),
      { numRuns: 200 },
    );
  });

  it('round-robin: the same nginx sequence through list changes, repeated ids, equal and unequal weights', () => {
    const lists = fc.array(
      fc.record({ w: weights, repeat: fc.boolean(), equal: fc.boolean() }).map(({ w, repeat, equal }) =>
        list(equal ? w.map(() => w[0]) : w, repeat ? w.map((_, i) => `p${i % 3}`) : undefined),
      ),
      { minLength: 1, maxLength: 5 },
    );
    fc.assert(
      fc.property(lists, fc.integer({ min: 1, max: 60 }), (ls, picks) => {
        samePicks(() => new SmoothRoundRobinBalancer(), ls, picks);
      }),
      { numRuns: 300 },
    );
  });

  it('round-robin: switching between a frozen list and plain ones keeps one set of scores', () => {
    const a = new SmoothRoundRobinBalancer();
    const b = new SmoothRoundRobinBalancer();
    const frozen = Object.freeze(list([5, 1, 1]));
    let seqA = '';
    let seqB = '';
    for (let i = 0; i < 21; i++) {
      seqA += (i % 3 === 0 ? a.pick([...frozen]) : a.pick(frozen))!.instance.id.slice(1);
      seqB += b.pick([...frozen])!.instance.id.slice(1);
    }
    expect(seqA).toBe(seqB);
    expect(seqA).toBe('001020000102000010200');
    expect(a.trackedIds.sort()).toEqual(['p0', 'p1', 'p2']);
  });

  it('consistent hash: same owners for the same keys through list changes', () => {
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 2, maxLength: 12 }), { minLength: 1, maxLength: 4 }), (sets) => {
        const lists = sets.map((ids) => ids.map((id) => candidate(`10.0.0.${id}:80`, 1 + (id % 3))));
        samePicks(() => new ConsistentHashBalancer({ virtualNodes: 16 }), lists, 30, (i) => `key-${i}`);
      }),
      { numRuns: 100 },
    );
  });

  it('least-active: up to the scan limit, the same exact scan', () => {
    const busy = (i: number) => candidate(`p${i}`, 1 + (i % 2), { inFlight: i % 4 });
    fc.assert(
      fc.property(fc.integer({ min: 2, max: LEAST_ACTIVE_SCAN_LIMIT }), fc.integer(), (n, seed) => {
        samePicks(() => new LeastActiveBalancer(seededRandom(seed)), [Array.from({ length: n }, (_, i) => busy(i))], 20);
      }),
      { numRuns: 50 },
    );
  });
});

describe('HashRing.rebuilt', () => {
  it('is the ring built from scratch: same size, same owner for every hash', () => {
    const member = fc.record({ id: fc.integer({ min: 0, max: 40 }).map((i) => `h${i}`), count: fc.integer({ min: 0, max: 12 }) });
    fc.assert(
      fc.property(fc.array(member, { maxLength: 20 }), fc.array(member, { maxLength: 20 }), fc.array(fc.nat(), { minLength: 1, maxLength: 50 }), (before, after, hashes) => {
        const old = new HashRing(
          before.map((m) => m.id),
          before.map((m) => m.count),
        );
        const ids = after.map((m) => m.id);
        const counts = after.map((m) => m.count);
        const scratch = new HashRing(ids, counts);
        const rebuilt = old.rebuilt(ids, counts);
        expect(rebuilt.size).toBe(scratch.size);
        // Every point and the hashes around them, plus arbitrary ones.
        for (const h of [...hashes, 0, 0xffffffff]) expect(rebuilt.ownerOf(h >>> 0)).toBe(scratch.ownerOf(h >>> 0));
        for (let k = 0; k < 64; k++) {
          const h = Math.floor((k / 64) * 0xffffffff);
          expect(rebuilt.ownerOf(h)).toBe(scratch.ownerOf(h));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('hashes only the members that joined or changed count (1,000 members, 50 replaced)', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`);
    const counts = ids.map(() => 160);
    const ring = new HashRing(ids, counts);
    const next = ids.map((id, i) => (i % 20 === 0 ? `10.9.${i >> 8}.${i & 255}:80` : id));
    const t0 = performance.now();
    const rebuilt = ring.rebuilt(next, counts);
    const incremental = performance.now() - t0;
    const t1 = performance.now();
    const scratch = new HashRing(next, counts);
    const full = performance.now() - t1;
    for (let k = 0; k < 2000; k++) {
      const h = (k * 2654435761) >>> 0;
      expect(rebuilt.ownerOf(h)).toBe(scratch.ownerOf(h));
    }
    console.info(`[stable-lists] ring of 160,000 points: rebuilt after 50 of 1,000 replaced in ${incremental.toFixed(1)} ms, from scratch ${full.toFixed(1)} ms`);
  });
});

describe('least-active above the scan limit: the less busy of two', () => {
  const n = LEAST_ACTIVE_SCAN_LIMIT * 4;

  it('never picks the busier of its two samples, and sends a piled-up provider almost nothing', () => {
    const candidates = Object.freeze(Array.from({ length: n }, (_, i) => candidate(`p${i}`, 1, { inFlight: i === 0 ? 1000 : i % 3 })));
    const balancer = new LeastActiveBalancer(seededRandom(7));
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const c = balancer.pick(candidates)!;
      counts.set(c.instance.id, (counts.get(c.instance.id) ?? 0) + 1);
    }
    // p0 is picked only when both samples are p0: (1/n)^2 of the time.
    expect(counts.get('p0') ?? 0).toBeLessThan(10);
    const byLoad = [0, 1, 2].map((load) =>
      candidates.filter((c, i) => i > 0 && c.inFlight === load).reduce((sum, c) => sum + (counts.get(c.instance.id) ?? 0), 0),
    );
    // Idle ones win every comparison they take part in: the most picks; the busiest the fewest.
    expect(byLoad[0]).toBeGreaterThan(byLoad[1]);
    expect(byLoad[1]).toBeGreaterThan(byLoad[2]);
  });

  it('follows the weights among equally busy candidates', () => {
    const candidates = Object.freeze(Array.from({ length: n }, (_, i) => candidate(`p${i}`, i < n / 2 ? 3 : 1)));
    const balancer = new LeastActiveBalancer(seededRandom(11));
    let heavy = 0;
    for (let i = 0; i < 20_000; i++) if (Number(balancer.pick(candidates)!.instance.id.slice(1)) < n / 2) heavy++;
    expect(heavy / 20_000).toBeGreaterThan(0.72);
    expect(heavy / 20_000).toBeLessThan(0.78);
  });
});

describe('warm-up on frozen lists', () => {
  const WARMUP = 600_000;
  const NOW = 1_700_000_000_000;

  function spy(): { inner: Balancer; seen: (readonly Candidate[])[] } {
    const seen: (readonly Candidate[])[] = [];
    return {
      seen,
      inner: {
        name: 'spy',
        pick: (cs) => {
          seen.push(cs);
          return cs[cs.length - 1];
        },
      },
    };
  }

  it('with nobody warming hands the frozen list itself to the inner balancer, pick after pick', () => {
    const { inner, seen } = spy();
    const clock = manualClock(NOW);
    const balancer = new WarmupBalancer(inner, WARMUP, clock);
    const warm = Object.freeze([candidate('a', 1, { startTime: String(NOW - 2 * WARMUP) }), candidate('b')]);
    for (let i = 0; i < 5; i++) expect(balancer.pick(warm)).toBe(warm[1]);
    expect(seen.every((cs) => cs === warm)).toBe(true);
  });

  it('ramps with the same weights as on plain lists, reused for warmupMs / 1000 and then recomputed', () => {
    const { inner, seen } = spy();
    const clock = manualClock(NOW);
    const balancer = new WarmupBalancer(inner, WARMUP, clock);
    const plain = new WarmupBalancer(spy().inner, WARMUP, clock);
    const candidates = Object.freeze([candidate('a', 10, { startTime: String(NOW - WARMUP / 4) }), candidate('b', 10)]);
    const picked = balancer.pick(candidates);
    expect(picked).toBe(candidates[1]);
    const first = seen[0];
    expect(first).not.toBe(candidates);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.map((c) => c.weight ?? c.instance.weight)).toEqual([2.5, 10]);
    expect(first[1]).toBe(candidates[1]); // warm ones go through as they are
    clock.set(NOW + WARMUP / 2000);
    balancer.pick(candidates);
    expect(seen[1]).toBe(first); // within the refresh period: the same view
    clock.set(NOW + WARMUP / 1000);
    balancer.pick(candidates);
    expect(seen[2]).not.toBe(first);
    expect(seen[2][0].weight).toBeCloseTo(plain.weightOf(candidates[0]), 10);
    // A clock stepped back is a reason to look again too.
    clock.set(NOW - 1000);
    balancer.pick(candidates);
    expect(seen[3][0].weight).toBeCloseTo(plain.weightOf(candidates[0]), 10);
  });

  it('a start beyond warmupMs ahead (a broken clock) counts as warm until it comes within reach', () => {
    const { inner, seen } = spy();
    const clock = manualClock(NOW);
    const balancer = new WarmupBalancer(inner, WARMUP, clock);
    const ahead = Object.freeze([candidate('a', 1, { startTime: String(NOW + 2 * WARMUP) }), candidate('b')]);
    balancer.pick(ahead);
    expect(seen[0]).toBe(ahead);
    clock.set(NOW + WARMUP);
    balancer.pick(ahead);
    expect(seen[1]).not.toBe(ahead);
    expect(seen[1][0].weight).toBeCloseTo(0.01);
  });

  it('reads a plain list afresh on every pick (it may have changed)', () => {
    const { inner, seen } = spy();
    const balancer = new WarmupBalancer(inner, WARMUP, manualClock(NOW));
    const mutable = [candidate('a'), candidate('b')];
    balancer.pick(mutable);
    mutable[0] = candidate('a', 1, { startTime: String(NOW) });
    balancer.pick(mutable);
    expect(seen[0]).toBe(mutable);
    expect(seen[1][0].weight).toBeCloseTo(0.01);
  });
});
