import { Clock, systemClock } from '../common/clock.js';
import { checkFunction, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Balancer } from './balancer.js';
import { BalancerOptions, resolveBalancerOptions } from './balancer-options.js';
import { ConsistentHashBalancer } from './consistent-hash-balancer.js';
import { LeastActiveBalancer } from './least-active-balancer.js';
import { SmoothRoundRobinBalancer } from './round-robin-balancer.js';
import { WarmupBalancer } from './warmup-balancer.js';
import { WeightedRandomBalancer } from './weighted-random-balancer.js';

/** What balancers may depend on; injected so tests drive them deterministically. */
export interface BalancerDeps {
  /** Its wall time (`wallNow`) drives warm-up, compared with the providers' `startTime`. */
  clock: Clock;
  /** Uniform in [0, 1). */
  random: () => number;
}

/**
 * Makes a fresh balancer (own rotation state) from resolved options: what `balancer.strategy`
 * takes for a custom strategy. `deps.clock` and `deps.random` are the client's (seeded in tests).
 */
export type BalancerFactory = (options: Readonly<BalancerOptions>, deps: Readonly<BalancerDeps>) => Balancer;

/**
 * Strategy names → factories, with the four built-ins registered. An instance, not a global:
 * a client (or a test) may register its own strategies without affecting anyone else.
 * Each `create()` returns a new balancer, as rotation state (round-robin scores, the hash ring)
 * belongs to one provider list.
 */
export class BalancerRegistry {
  private readonly factories = new Map<string, BalancerFactory>();
  private readonly deps: Readonly<BalancerDeps>;

  constructor(deps: Partial<BalancerDeps> = {}) {
    const clock = deps.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object') throw new InvalidOptionsError('clock', 'expected a Clock object');
    checkFunction('clock.now', clock.now);
    this.deps = Object.freeze({ clock, random: checkFunction<() => number>('random', deps.random ?? Math.random) });
    this.register('random', (_o, d) => new WeightedRandomBalancer(d.random));
    this.register('round-robin', () => new SmoothRoundRobinBalancer());
    this.register('least-active', (_o, d) => new LeastActiveBalancer(d.random));
    this.register('consistent-hash', (o, d) => new ConsistentHashBalancer({ virtualNodes: o.virtualNodes, random: d.random }));
  }

  /** Adds a strategy, or replaces one of the same name (built-ins included). */
  register(name: string, factory: BalancerFactory): this {
    checkString('strategy', name);
    this.factories.set(name, checkFunction<BalancerFactory>(`factory of "${name}"`, factory));
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  /** Registered strategy names, built-ins first. */
  names(): string[] {
    return [...this.factories.keys()];
  }

  /** {@link resolveBalancerOptions} accepting this registry's strategy names. */
  resolve(partial: Partial<BalancerOptions> = {}, fieldPrefix = 'balancer'): BalancerOptions {
    return resolveBalancerOptions(partial, fieldPrefix, this.names());
  }

  /**
   * A new balancer for one provider list: the named strategy, the given factory's product or the
   * given instance, wrapped by warm-up when `warmup` is on. Throws InvalidOptionsError naming the
   * field on bad options, or when a factory returns no Balancer (or throws).
   */
  create(partial: Partial<BalancerOptions> = {}, fieldPrefix = 'balancer'): Balancer {
    const options = this.resolve(partial, fieldPrefix);
    const { strategy } = options;
    const field = fieldPrefix ? `${fieldPrefix}.strategy` : 'strategy';
    let balancer: Balancer;
    if (typeof strategy === 'object') {
      balancer = strategy;
    } else {
      const factory = typeof strategy === 'string' ? this.factories.get(strategy)! : strategy;
      const what = typeof strategy === 'string' ? `the factory of "${strategy}"` : 'the balancer factory';
      try {
        balancer = factory(options, this.deps);
      } catch (err) {
        throw new InvalidOptionsError(field, `${what} threw: ${(err as Error)?.message ?? String(err)}`);
      }
      if (balancer === null || typeof balancer !== 'object' || typeof balancer.pick !== 'function' || typeof balancer.name !== 'string') {
        throw new InvalidOptionsError(field, `${what} returned no Balancer (an object with name and pick())`);
      }
    }
    return options.warmup ? new WarmupBalancer(balancer, options.warmupMs, this.deps.clock) : balancer;
  }
}

/** One-off {@link BalancerRegistry.create} with the built-in strategies. */
export function createBalancer(partial: Partial<BalancerOptions> = {}, deps: Partial<BalancerDeps> = {}, fieldPrefix = 'balancer'): Balancer {
  return new BalancerRegistry(deps).create(partial, fieldPrefix);
}
