import { systemClock, type Clock } from '../common/clock.js';
import { checkBoolean, checkFunction, checkInteger, checkKnownKeys, checkOptionsObject, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { MAX_TIMER_DELAY_MS } from '../liveness/timer-delay.js';
import type { HealthSource, ReachableRegistry, WatchedSource } from './health-source.js';

/** Injection token of the {@link MsRpcHealthOptions} (a `Partial`) read by `MsRpcHealthIndicator`. */
export const MS_RPC_HEALTH_OPTIONS = Symbol('MS_RPC_HEALTH_OPTIONS');

export interface MsRpcHealthOptions {
  /**
   * Registry whose reachability is reported (`Registry.isReachable()`); leave unset with static
   * providers. Pass the same instance the clients use.
   * @default undefined
   */
  registry: ReachableRegistry | undefined;
  /**
   * Budget for `isReachable()`: no answer in time counts as unreachable (a hung registry must not
   * hang the probe past the orchestrator's own timeout).
   * @default 2000
   */
  registryTimeoutMs: number;
  /**
   * Whether an unreachable registry makes the indicator `down`. Off by default: clients keep
   * calling the providers they already know (instance cache, snapshot), so a registry outage
   * degrades discovery, not traffic, and restarting every consumer over it would turn a registry
   * blip into an outage. When off, it reports `degraded` (Terminus ≥ 12; `up` with
   * `degraded: true` on 11).
   * @default false
   */
  registryRequired: boolean;
  /**
   * Services watched from the start (more with `indicator.watch()`). A bare source is required.
   * @default []
   */
  sources: ReadonlyArray<HealthSource | WatchedSource>;
  /**
   * Result key used when `isHealthy()` gets none.
   * @default 'ms-rpc'
   */
  key: string;
  /**
   * Time source for the registry timeout.
   * @default systemClock
   */
  clock: Clock;
}

/** Options after {@link resolveHealthOptions}: every source normalized to `{ source, required }`. */
export type ResolvedHealthOptions = Omit<MsRpcHealthOptions, 'sources'> & { sources: Required<WatchedSource>[] };

export const DEFAULT_HEALTH_OPTIONS: Readonly<MsRpcHealthOptions> = Object.freeze({
  registry: undefined,
  registryTimeoutMs: 2000,
  registryRequired: false,
  sources: Object.freeze([]),
  key: 'ms-rpc',
  clock: systemClock,
});

/** Where errors name the options: `MsRpcHealthModule.forRoot(options)` (or the indicator's MS_RPC_HEALTH_OPTIONS). */
const HEALTH = 'MsRpcHealthModule';

const KNOWN_KEYS: readonly (keyof MsRpcHealthOptions)[] = [
  'registry',
  'registryTimeoutMs',
  'registryRequired',
  'sources',
  'key',
  'clock',
];

/** Normalizes a bare source or a `{ source, required }` entry; throws naming `field`. */
export function toWatchedSource(field: string, entry: unknown): Required<WatchedSource> {
  if (entry === null || typeof entry !== 'object') throw new InvalidOptionsError(field, 'expected a HealthSource');
  if ('source' in entry) checkKnownKeys(field, entry, ['source', 'required']);
  const watched = 'source' in entry ? (entry as WatchedSource) : { source: entry as HealthSource };
  const source = watched.source as unknown as Record<string, unknown>;
  if (source === null || typeof source !== 'object') throw new InvalidOptionsError(`${field}.source`, 'expected a HealthSource');
  checkString(`${field}.serviceName`, source.serviceName);
  checkFunction(`${field}.readyProviderCount`, source.readyProviderCount);
  checkFunction(`${field}.knownProviderCount`, source.knownProviderCount);
  const required = watched.required === undefined ? true : checkBoolean(`${field}.required`, watched.required);
  return { source: watched.source, required };
}

/**
 * Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field
 * (`MsRpcHealthModule.<field>`). A field explicitly set to `undefined` takes its default.
 */
export function resolveHealthOptions(partial: Partial<MsRpcHealthOptions> = {}): ResolvedHealthOptions {
  checkOptionsObject(HEALTH, partial, KNOWN_KEYS);
  const d = DEFAULT_HEALTH_OPTIONS;
  const registry = partial.registry ?? d.registry;
  if (registry !== undefined) checkFunction(`${HEALTH}.registry.isReachable`, (registry as Partial<ReachableRegistry>).isReachable);
  const clock = partial.clock ?? d.clock;
  checkFunction(`${HEALTH}.clock.now`, clock?.now);
  checkFunction(`${HEALTH}.clock.setTimeout`, clock.setTimeout);
  checkFunction(`${HEALTH}.clock.clearTimeout`, clock.clearTimeout);
  const sources = partial.sources ?? d.sources;
  if (!Array.isArray(sources)) throw new InvalidOptionsError(`${HEALTH}.sources`, 'expected an array');
  return {
    registry,
    registryTimeoutMs: checkInteger(`${HEALTH}.registryTimeoutMs`, partial.registryTimeoutMs ?? d.registryTimeoutMs, 1, MAX_TIMER_DELAY_MS),
    registryRequired: checkBoolean(`${HEALTH}.registryRequired`, partial.registryRequired ?? d.registryRequired),
    sources: sources.map((entry, i) => toWatchedSource(`${HEALTH}.sources[${i}]`, entry)),
    key: checkString(`${HEALTH}.key`, partial.key ?? d.key),
    clock,
  };
}
