import type { ServiceInstance } from '../registry/service-instance.js';
import type { PatternKind } from '../routing/pattern-index.js';
import type { ProviderCandidate } from './provider-candidate.js';

const NONE: readonly ProviderCandidate[] = Object.freeze([]);

/**
 * Routes (pattern and kind) remembered per router. Past this many of a kind the oldest is
 * forgotten: a client whose patterns carry ids (`{ cmd: 'get', id }`) must not grow without bound.
 * A forgotten route loses its cached lists, not its connections; its next call rebuilds them.
 */
export const MAX_ROUTES = 1024;

/**
 * What the router derived for one route from the directory and the channel cache, rebuilt only
 * when one of them changed (`builtAt` behind the router's version, or the outlier detector's
 * generation moved): a call then picks from a cached, frozen list.
 */
export class RouteState {
  /** The router version and outlier generation the lists were built at (-1: never). */
  builtAt = -1;
  outlierGeneration = 0;
  /** Providers that serve the route (declared, or undeclared and not denied by their Hello). */
  serving: readonly ServiceInstance[] = [];
  /** Of those, the ones this router connected that are ready, not ejected: what the balancer picks from. */
  ready: readonly ProviderCandidate[] = NONE;
  /** Ready, but ejected as outliers: used while `ready` is empty. */
  ejected: readonly ProviderCandidate[] = NONE;

  /** `pattern` undefined: any provider (connect(), an event nobody declares). */
  constructor(
    readonly pattern: string | undefined,
    readonly kind: PatternKind,
  ) {}

  /** Stores freshly built lists; `ready` and `ejected` are frozen for the balancer (see Balancer). */
  set(serving: ServiceInstance[], ready: ProviderCandidate[], ejected: ProviderCandidate[] | undefined, builtAt: number, outliers: number): void {
    this.serving = serving;
    this.ready = Object.freeze(ready);
    this.ejected = ejected ? Object.freeze(ejected) : NONE;
    this.builtAt = builtAt;
    this.outlierGeneration = outliers;
  }
}

/** The routes a router has seen, per kind, oldest first. */
export class RouteTable {
  private readonly patterns = new Map<string, RouteState>();
  private readonly events = new Map<string, RouteState>();

  get(pattern: string, kind: PatternKind): RouteState | undefined {
    return (kind === 'patterns' ? this.patterns : this.events).get(pattern);
  }

  /** Adds a route, forgetting the oldest of its kind past {@link MAX_ROUTES}. */
  add(pattern: string, kind: PatternKind): RouteState {
    const table = kind === 'patterns' ? this.patterns : this.events;
    if (table.size >= MAX_ROUTES) table.delete(table.keys().next().value!);
    const state = new RouteState(pattern, kind);
    table.set(pattern, state);
    return state;
  }

  /** Every route, requests first. */
  *all(): IterableIterator<RouteState> {
    yield* this.patterns.values();
    yield* this.events.values();
  }

  get size(): number {
    return this.patterns.size + this.events.size;
  }

  clear(): void {
    this.patterns.clear();
    this.events.clear();
  }
}
