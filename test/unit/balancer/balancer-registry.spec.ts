import { describe, expect, it } from '@jest/globals';
import {
  BalancerRegistry,
  BUILTIN_BALANCER_NAMES,
  ConsistentHashBalancer,
  createBalancer,
  DEFAULT_BALANCER_OPTIONS,
  LeastActiveBalancer,
  resolveBalancerOptions,
  SmoothRoundRobinBalancer,
  WarmupBalancer,
  WeightedRandomBalancer,
  type Balancer,
} from '../../../lib/balancer/index.js';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import { candidate, manualClock, seededRandom, weighted } from './fixtures.js';

describe('resolveBalancerOptions', () => {
  it('fills the documented defaults; an explicit undefined takes the default', () => {
    expect(resolveBalancerOptions()).toEqual({ strategy: 'random', warmup: true, warmupMs: 600_000, virtualNodes: 160 });
    expect(resolveBalancerOptions({ strategy: undefined, warmupMs: undefined })).toEqual(DEFAULT_BALANCER_OPTIONS);
    expect(Object.isFrozen(DEFAULT_BALANCER_OPTIONS)).toBe(true);
    expect(BUILTIN_BALANCER_NAMES).toEqual(['random', 'round-robin', 'least-active', 'consistent-hash']);
  });

  it('is idempotent, so a resolved object can be resolved again', () => {
    const hashKey = (): string => 'k';
    const once = resolveBalancerOptions({ strategy: 'consistent-hash', hashKey, virtualNodes: 40 });
    expect(resolveBalancerOptions(once)).toEqual(once);
    expect(once.hashKey).toBe(hashKey);
  });

  it('throws InvalidOptionsError naming the bad field', () => {
    const cases: Array<[object, RegExp]> = [
      [{ strategy: 'fastest' }, /"balancer\.strategy".*"random", "round-robin"/],
      [{ strategy: 5 }, /"balancer\.strategy"/],
      [{ strategy: {} }, /"balancer\.strategy\.pick"/],
      [{ strategy: { pick: () => undefined } }, /"balancer\.strategy\.name"/],
      [{ warmup: 'yes' }, /"balancer\.warmup"/],
      [{ warmupMs: 0 }, /"balancer\.warmupMs"/],
      [{ warmupMs: 1.5 }, /"balancer\.warmupMs"/],
      [{ virtualNodes: 0 }, /"balancer\.virtualNodes"/],
      [{ virtualNodes: 10_001 }, /"balancer\.virtualNodes"/],
      [{ hashKey: 'userId' }, /"balancer\.hashKey"/],
      [{ strategyy: 'random' }, /"balancer\.strategyy".*unknown option/],
    ];
    for (const [options, message] of cases) {
      expect(() => resolveBalancerOptions(options as never)).toThrow(InvalidOptionsError);
      expect(() => resolveBalancerOptions(options as never)).toThrow(message);
    }
    expect(() => resolveBalancerOptions({ warmupMs: -1 }, 'MsRpcClient.balancer')).toThrow(/"MsRpcClient\.balancer\.warmupMs"/);
    expect(() => resolveBalancerOptions(null as never)).toThrow(/"balancer"/);
  });
});

describe('BalancerRegistry', () => {
  it('creates each built-in by name, wrapped by warm-up unless it is off', () => {
    const registry = new BalancerRegistry();
    const expected = {
      random: WeightedRandomBalancer,
      'round-robin': SmoothRoundRobinBalancer,
      'least-active': LeastActiveBalancer,
      'consistent-hash': ConsistentHashBalancer,
    } as const;
    for (const [strategy, type] of Object.entries(expected)) {
      const plain = registry.create({ strategy, warmup: false });
      expect(plain).toBeInstanceOf(type);
      expect(plain.name).toBe(strategy);
      const warmed = registry.create({ strategy });
      expect(warmed).toBeInstanceOf(WarmupBalancer);
      expect((warmed as WarmupBalancer).inner).toBeInstanceOf(type);
      expect(warmed.name).toBe(strategy);
    }
    expect(createBalancer()).toBeInstanceOf(WarmupBalancer);
    expect((createBalancer() as WarmupBalancer).inner).toBeInstanceOf(WeightedRandomBalancer);
  });

  it('returns a fresh balancer (own state) on every create', () => {
    const registry = new BalancerRegistry();
    expect(registry.create({ strategy: 'round-robin' })).not.toBe(registry.create({ strategy: 'round-robin' }));
  });

  it('passes options and the injected random and clock to what it creates', () => {
    const first = createBalancer({ warmup: false }, { random: seededRandom(99) });
    const second = createBalancer({ warmup: false }, { random: seededRandom(99) });
    const candidates = weighted([1, 2, 3]);
    const a = Array.from({ length: 50 }, () => first.pick(candidates)!.instance.id).join('');
    const b = Array.from({ length: 50 }, () => second.pick(candidates)!.instance.id).join('');
    expect(a).toBe(b);

    const ring = createBalancer({ strategy: 'consistent-hash', virtualNodes: 7, warmup: false }) as ConsistentHashBalancer;
    ring.pick(weighted([1, 1]), { hashKey: 'k' });
    expect(ring.ringSize).toBe(14);

    const clock = manualClock(1_000_000);
    const warm = createBalancer({ warmupMs: 1_000 }, { clock }) as WarmupBalancer;
    const fresh = candidate('a', 10, { startTime: '999500' });
    expect(warm.weightOf(fresh)).toBeCloseTo(5);
    expect(warm.warmupMs).toBe(1_000);
  });

  it('accepts your own Balancer instance, wrapped by warm-up unless it is off', () => {
    const mine: Balancer = { name: 'first', pick: (cs) => cs[0] };
    const registry = new BalancerRegistry();
    expect(registry.create({ strategy: mine, warmup: false })).toBe(mine);
    const wrapped = registry.create({ strategy: mine }) as WarmupBalancer;
    expect(wrapped.inner).toBe(mine);
    const candidates = weighted([1, 5]);
    expect(wrapped.pick(candidates)).toBe(candidates[0]);
  });

  it('is pluggable per instance: a registered strategy exists only in its registry', () => {
    const registry = new BalancerRegistry();
    registry.register('last', () => ({ name: 'last', pick: (cs) => cs[cs.length - 1] }));
    expect(registry.has('last')).toBe(true);
    expect(registry.names()).toEqual([...BUILTIN_BALANCER_NAMES, 'last']);
    const candidates = weighted([1, 1, 1]);
    expect(registry.create({ strategy: 'last', warmup: false }).pick(candidates)).toBe(candidates[2]);
    expect(registry.resolve({ strategy: 'last' }).strategy).toBe('last');

    expect(new BalancerRegistry().has('last')).toBe(false);
    expect(() => new BalancerRegistry().create({ strategy: 'last' })).toThrow(/"balancer\.strategy"/);
    expect(() => resolveBalancerOptions({ strategy: 'last' })).toThrow(InvalidOptionsError);
  });

  it('lets a registry replace a built-in', () => {
    const registry = new BalancerRegistry().register('random', () => new SmoothRoundRobinBalancer());
    expect(registry.create({ warmup: false })).toBeInstanceOf(SmoothRoundRobinBalancer);
    expect(new BalancerRegistry().create({ warmup: false })).toBeInstanceOf(WeightedRandomBalancer);
  });

  it('rejects bad registrations, factories and dependencies with InvalidOptionsError', () => {
    const registry = new BalancerRegistry();
    expect(() => registry.register('', () => new WeightedRandomBalancer())).toThrow(InvalidOptionsError);
    expect(() => registry.register('x', 'factory' as never)).toThrow(InvalidOptionsError);
    registry.register('broken', () => undefined as never);
    expect(() => registry.create({ strategy: 'broken' }, 'MsRpcClient.balancer')).toThrow(
      /"MsRpcClient\.balancer\.strategy".*returned no Balancer/,
    );
    expect(() => new BalancerRegistry({ random: 1 as never })).toThrow(/"random"/);
    expect(() => new BalancerRegistry({ clock: {} as never })).toThrow(/"clock\.now"/);
  });
});
