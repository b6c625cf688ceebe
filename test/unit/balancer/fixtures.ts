import type { Clock } from '../../../lib/common/clock.js';
import type { Balancer, Candidate, PickContext } from '../../../lib/balancer/index.js';
import type { ServiceInstance } from '../../../lib/registry/service-instance.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1), so distribution tests are deterministic. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TestCandidate extends Candidate {
  /** Stands for the router's connection: balancers must hand back the caller's own object. */
  readonly connection: string;
}

export function instance(id: string, weight = 1, metadata: Record<string, string> = {}): ServiceInstance {
  const [host, port] = id.includes(':') ? id.split(':') : [id, '1'];
  return { id, host, port: Number(port), weight, healthy: true, enabled: true, cluster: 'DEFAULT', metadata };
}

export function candidate(
  id: string,
  weight = 1,
  extra: { inFlight?: number; startTime?: string; metadata?: Record<string, string> } = {},
): TestCandidate {
  const metadata = { ...(extra.metadata ?? {}), ...(extra.startTime !== undefined ? { startTime: extra.startTime } : {}) };
  return { instance: instance(id, weight, metadata), inFlight: extra.inFlight ?? 0, connection: `conn-${id}` };
}

/** Candidates a, b, c, … with the given weights. */
export function weighted(weights: readonly number[]): TestCandidate[] {
  return weights.map((w, i) => candidate(String.fromCharCode(97 + i), w));
}

/** Picks `n` times; counts per instance id. `contextOf(i)` gives the i-th call's context. */
export function countPicks(
  balancer: Balancer,
  candidates: readonly TestCandidate[],
  n: number,
  contextOf?: (i: number) => PickContext | undefined,
): Map<string, number> {
  const counts = new Map<string, number>(candidates.map((c) => [c.instance.id, 0]));
  for (let i = 0; i < n; i++) {
    const picked = balancer.pick(candidates, contextOf?.(i));
    if (!picked) throw new Error('no pick');
    counts.set(picked.instance.id, (counts.get(picked.instance.id) ?? 0) + 1);
  }
  return counts;
}

/** Pearson's chi-square statistic of observed counts against expected shares. */
export function chiSquare(observed: readonly number[], shares: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const sum = shares.reduce((a, b) => a + b, 0);
  let chi = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = (total * shares[i]) / sum;
    chi += (observed[i] - expected) ** 2 / expected;
  }
  return chi;
}

/** Chi-square critical values at α = 0.001 by degrees of freedom. */
export const CHI_SQUARE_001: Readonly<Record<number, number>> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52 };

/**
 * Largest |observed share − expected share|, in share points. With 10,000 picks the sampling
 * error of a share p is √(p(1−p)/10,000) ≤ 0.5 points, so 0.015 is a ≥ 3σ bound for every p.
 */
export function maxShareError(observed: readonly number[], shares: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const sum = shares.reduce((a, b) => a + b, 0);
  let worst = 0;
  for (let i = 0; i < observed.length; i++) worst = Math.max(worst, Math.abs(observed[i] / total - shares[i] / sum));
  return worst;
}

/** Largest |observed − expected| / expected over all entries. */
export function maxRelativeError(observed: readonly number[], shares: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  const sum = shares.reduce((a, b) => a + b, 0);
  let worst = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = (total * shares[i]) / sum;
    worst = Math.max(worst, Math.abs(observed[i] - expected) / expected);
  }
  return worst;
}

/** Counts in candidate order, for the statistics helpers. */
export function inOrder(counts: Map<string, number>, candidates: readonly Candidate[]): number[] {
  return candidates.map((c) => counts.get(c.instance.id) ?? 0);
}

/**
 * A clock whose time only moves when the test says so; no timers are ever created. Warm-up reads
 * its wall time, so both readings follow `set`.
 */
export interface ManualClock extends Clock {
  set(now: number): void;
}

export function manualClock(start: number): ManualClock {
  let now = start;
  return {
    now: () => now,
    wallNow: () => now,
    set: (t) => {
      now = t;
    },
    setTimeout: () => {
      throw new Error('balancers must not create timers');
    },
    clearTimeout: () => {
      throw new Error('balancers must not create timers');
    },
  };
}
