import { checkBoolean, checkFunction, checkInteger, checkOptionsObject, checkOneOf, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Balancer } from './balancer.js';
import type { BalancerFactory } from './balancer-registry.js';
import { MAX_VIRTUAL_NODES } from './consistent-hash-balancer.js';
import { DEFAULT_WARMUP_MS } from './warmup-balancer.js';

/** The strategies built in (see {@link BalancerOptions.strategy}). */
export type BuiltinBalancerName = 'random' | 'round-robin' | 'least-active' | 'consistent-hash';

/** The strategies every {@link BalancerRegistry} knows. */
export const BUILTIN_BALANCER_NAMES: readonly BuiltinBalancerName[] = ['random', 'round-robin', 'least-active', 'consistent-hash'];

/**
 * Derives the consistent-hash key of a call from its pattern and payload (Dubbo hashes the first
 * argument); `undefined` means "no affinity": the call is balanced by weighted random.
 */
export type HashKeyFunction = (pattern: unknown, data: unknown) => string | undefined;

/** How a client spreads calls over the providers of a service. */
export interface BalancerOptions {
  /**
   * A built-in strategy — 'random' (weighted random), 'round-robin' (smooth weighted round-robin),
   * 'least-active' (fewest calls in flight; among more than 64 providers, the less busy of two
   * picked by weight), 'consistent-hash' (affinity on `hashKey`) — or your own:
   * - a {@link BalancerFactory} `(options, deps) => Balancer`, called once per client (each client
   *   balances one service, so each gets its own rotation state). The form to use in
   *   `MsRpcModule.forRoot({ clientDefaults })`, which every client shares;
   * - a Balancer instance, used as is by this one client.
   *
   * Your own is still wrapped by warm-up when `warmup` is on: read weights with
   * `candidateWeight()` to honour it.
   * @default 'random'
   */
  strategy: BuiltinBalancerName | (string & {}) | Balancer | BalancerFactory;
  /**
   * Ramp up providers that started less than `warmupMs` ago: weight × uptime / warmupMs, at least
   * 1 % of it. Needs the `startTime` metadata MsRpcServer registers; others count as warm.
   * @default true
   */
  warmup: boolean;
  /**
   * Warm-up period in ms (Dubbo's default: 10 minutes).
   * @default 600000
   */
  warmupMs: number;
  /**
   * Ring points per provider of average weight, for 'consistent-hash' (Dubbo: 160). More points
   * spread keys more evenly (share error ≈ 1/√points) at the cost of a bigger ring.
   * @default 160
   */
  virtualNodes: number;
  /**
   * Per-call affinity key for 'consistent-hash'; the client passes its result as
   * `PickContext.hashKey`.
   * @default undefined (no key: weighted random)
   */
  hashKey?: HashKeyFunction;
}

export const DEFAULT_BALANCER_OPTIONS: Readonly<BalancerOptions> = Object.freeze({
  strategy: 'random',
  warmup: true,
  warmupMs: DEFAULT_WARMUP_MS,
  virtualNodes: 160,
});

export const BALANCER_OPTION_KEYS: readonly (keyof BalancerOptions)[] = [
  'strategy',
  'warmup',
  'warmupMs',
  'virtualNodes',
  'hashKey',
];

/**
 * Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field
 * (`${fieldPrefix}.${field}`). A field explicitly set to `undefined` takes its default.
 * `strategies` lists the names a string `strategy` may take (a registry passes its own).
 */
export function resolveBalancerOptions(
  partial: Partial<BalancerOptions> = {},
  fieldPrefix = 'balancer',
  strategies: readonly string[] = BUILTIN_BALANCER_NAMES,
): BalancerOptions {
  const name = (field: string): string => (fieldPrefix ? `${fieldPrefix}.${field}` : field);
  checkOptionsObject(fieldPrefix || 'balancer', partial, BALANCER_OPTION_KEYS);
  const d = DEFAULT_BALANCER_OPTIONS;
  const resolved: BalancerOptions = {
    strategy: checkStrategy(name('strategy'), partial.strategy ?? d.strategy, strategies),
    warmup: checkBoolean(name('warmup'), partial.warmup ?? d.warmup),
    warmupMs: checkInteger(name('warmupMs'), partial.warmupMs ?? d.warmupMs, 1),
    virtualNodes: checkInteger(name('virtualNodes'), partial.virtualNodes ?? d.virtualNodes, 1, MAX_VIRTUAL_NODES),
  };
  if (partial.hashKey !== undefined) {
    resolved.hashKey = checkFunction<HashKeyFunction>(name('hashKey'), partial.hashKey);
  }
  return resolved;
}

function checkStrategy(field: string, value: unknown, strategies: readonly string[]): BalancerOptions['strategy'] {
  if (typeof value === 'string') return checkOneOf(field, value, strategies);
  if (typeof value === 'function') return value as BalancerFactory;
  if (value === null || typeof value !== 'object') {
    throw new InvalidOptionsError(
      field,
      `expected a strategy name (${strategies.join(', ')}), a Balancer object or a factory (options, deps) => Balancer`,
    );
  }
  const balancer = value as Partial<Balancer>;
  checkFunction(`${field}.pick`, balancer.pick);
  checkString(`${field}.name`, balancer.name);
  return balancer as Balancer;
}
