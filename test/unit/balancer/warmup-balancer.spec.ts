import { describe, expect, it, jest } from '@jest/globals';
import {
  ConsistentHashBalancer,
  LeastActiveBalancer,
  MIN_WARMUP_FACTOR,
  SmoothRoundRobinBalancer,
  WarmupBalancer,
  WeightedRandomBalancer,
  providerStartTime,
  warmupFactor,
  type Balancer,
  type Candidate,
  type PickContext,
} from '../../../lib/balancer/index.js';
import {
  candidate,
  CHI_SQUARE_001,
  chiSquare,
  countPicks,
  inOrder,
  manualClock,
  maxShareError,
  seededRandom,
} from './fixtures.js';

const WARMUP = 600_000;
const NOW = 1_700_000_000_000;
const startedAgo = (ms: number): string => String(NOW - ms);

describe('warmupFactor / providerStartTime', () => {
  it('ramps linearly from 1 % to 100 % over warmupMs', () => {
    expect(warmupFactor(NOW, NOW, WARMUP)).toBe(MIN_WARMUP_FACTOR);
    expect(warmupFactor(NOW - WARMUP / 200, NOW, WARMUP)).toBe(MIN_WARMUP_FACTOR);
    expect(warmupFactor(NOW - WARMUP / 4, NOW, WARMUP)).toBe(0.25);
    expect(warmupFactor(NOW - WARMUP / 2, NOW, WARMUP)).toBe(0.5);
    expect(warmupFactor(NOW - WARMUP, NOW, WARMUP)).toBe(1);
    expect(warmupFactor(NOW - 10 * WARMUP, NOW, WARMUP)).toBe(1);
  });

  it('counts unknown start times as warm, a little skew as just started, a broken clock as warm', () => {
    expect(warmupFactor(undefined, NOW, WARMUP)).toBe(1);
    expect(warmupFactor(NOW + 5_000, NOW, WARMUP)).toBe(MIN_WARMUP_FACTOR);
    expect(warmupFactor(NOW + 2 * WARMUP, NOW, WARMUP)).toBe(1);
  });

  it('reads startTime from metadata, and only positive numbers', () => {
    expect(providerStartTime(candidate('a', 1, { startTime: '1700000000000' }).instance)).toBe(1_700_000_000_000);
    for (const garbage of ['', ' ', 'abc', '-5', '0', 'NaN', 'Infinity', '12abc']) {
      expect(providerStartTime(candidate('a', 1, { startTime: garbage }).instance)).toBeUndefined();
    }
    expect(providerStartTime(candidate('a').instance)).toBeUndefined();
  });
});

describe('WarmupBalancer', () => {
  it('ramps the weight at 0 %, 50 % and 100 % of warmupMs with an injected clock', () => {
    const clock = manualClock(NOW);
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(), WARMUP, clock);
    const fresh = candidate('a', 10, { startTime: String(NOW) });
    expect(balancer.weightOf(fresh)).toBeCloseTo(0.1);
    clock.set(NOW + WARMUP / 2);
    expect(balancer.weightOf(fresh)).toBeCloseTo(5);
    clock.set(NOW + WARMUP);
    expect(balancer.weightOf(fresh)).toBe(10);
  });

  it('keeps missing or garbage startTime fully warm', () => {
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(), WARMUP, manualClock(NOW));
    expect(balancer.weightOf(candidate('a', 10))).toBe(10);
    expect(balancer.weightOf(candidate('a', 10, { startTime: 'yesterday' }))).toBe(10);
  });

  it('shifts weighted random traffic: a provider at 25 % of its warm-up gets 1/5 next to a warm twin', () => {
    const candidates = [candidate('old', 1, { startTime: startedAgo(2 * WARMUP) }), candidate('new', 1, { startTime: startedAgo(WARMUP / 4) })];
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(seededRandom(11)), WARMUP, manualClock(NOW));
    const counts = inOrder(countPicks(balancer, candidates, 10_000), candidates);
    expect(chiSquare(counts, [4, 1])).toBeLessThan(CHI_SQUARE_001[1]);
    expect(maxShareError(counts, [4, 1])).toBeLessThan(0.015);
  });

  it('feeds ramped weights to round-robin (exact) and least-active (ties by weight)', () => {
    const candidates = [candidate('old', 3, { startTime: startedAgo(WARMUP) }), candidate('new', 4, { startTime: startedAgo(WARMUP / 4) })];
    const rr = new WarmupBalancer(new SmoothRoundRobinBalancer(), WARMUP, manualClock(NOW));
    expect(inOrder(countPicks(rr, candidates, 4_000), candidates)).toEqual([3_000, 1_000]);
    const la = new WarmupBalancer(new LeastActiveBalancer(seededRandom(12)), WARMUP, manualClock(NOW));
    expect(maxShareError(inOrder(countPicks(la, candidates, 10_000), candidates), [3, 1])).toBeLessThan(0.015);
  });

  it('lets a warming provider take over its consistent-hash keys gradually', () => {
    const clock = manualClock(NOW);
    const inner = new ConsistentHashBalancer();
    const balancer = new WarmupBalancer(inner, WARMUP, clock);
    const candidates = [
      candidate('a'),
      candidate('b'),
      candidate('c', 1, { startTime: String(NOW) }),
    ];
    const share = (): number => {
      let n = 0;
      for (let i = 0; i < 3_000; i++) if (balancer.pick(candidates, { hashKey: `k${i}` })!.instance.id === 'c') n++;
      return n / 3_000;
    };
    const atStart = share();
    const builds = inner.ringBuilds;
    clock.set(NOW + WARMUP / 2);
    const atHalf = share();
    clock.set(NOW + WARMUP);
    const warm = share();
    expect(atStart).toBeLessThan(0.02);
    expect(atHalf).toBeGreaterThan(atStart);
    expect(warm).toBeGreaterThan(atHalf);
    expect(warm).toBeGreaterThan(0.25);
    // One ring per weight step, not per pick.
    expect(inner.ringBuilds - builds).toBe(2);
  });

  it('hands the list through untouched when nobody is warming, and returns the caller’s objects', () => {
    const calls: Array<readonly Candidate[]> = [];
    const inner: Balancer = {
      name: 'spy',
      pick: (cs) => {
        calls.push(cs);
        return cs[cs.length - 1];
      },
    };
    const balancer = new WarmupBalancer(inner, WARMUP, manualClock(NOW));
    const warm = [candidate('a', 1, { startTime: startedAgo(WARMUP) }), candidate('b')];
    expect(balancer.pick(warm)).toBe(warm[1]);
    expect(calls[0]).toBe(warm);

    const warming = [candidate('a'), candidate('b', 2, { startTime: startedAgo(WARMUP / 2) })];
    const picked = balancer.pick(warming, { hashKey: 'k' });
    expect(picked).toBe(warming[1]);
    expect(picked!.connection).toBe('conn-b');
    expect(calls[1]).not.toBe(warming);
    expect(calls[1].map((c) => c.weight)).toEqual([1, 1]);
    expect(balancer.name).toBe('spy');
  });

  it('passes the pick context through to the inner balancer', () => {
    const pick = jest.fn((cs: readonly Candidate[], _context?: PickContext) => cs[0]);
    const balancer = new WarmupBalancer({ name: 'spy', pick } as unknown as Balancer, WARMUP, manualClock(NOW));
    balancer.pick([candidate('a'), candidate('b', 1, { startTime: String(NOW) })], { hashKey: 'h', pattern: 'p' });
    expect(pick.mock.calls[0][1]).toEqual({ hashKey: 'h', pattern: 'p' });
  });

  it('returns undefined for no candidates and the only one for one, even fresh', () => {
    const balancer = new WarmupBalancer(new WeightedRandomBalancer(), WARMUP, manualClock(NOW));
    expect(balancer.pick([])).toBeUndefined();
    const only = candidate('a', 1, { startTime: String(NOW) });
    expect(balancer.pick([only])).toBe(only);
  });
});
