import type { ChannelCache } from '../channel/channel-cache.js';
import type { Directory } from '../directory/directory.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { OutlierDetector } from '../routing/outlier-detector.js';
import { PatternIndex } from '../routing/pattern-index.js';
import { ProviderCandidate } from './provider-candidate.js';
import type { RouteFilter } from './provider-router.js';
import { RouteState, RouteTable } from './route-table.js';

/**
 * The providers of each route a router uses, kept current for its picks: which serve the route,
 * and which of those the router connected (holds in the channel cache) and are ready. A route's
 * lists are rebuilt only when something they depend on changed since they were built: the
 * directory, a connection's availability, the held providers (all counted by {@link changed}), or
 * an outlier ejection (the detector's generation). A route seen for the first time is handed to
 * `onNewRoute`, which connects its providers.
 */
export class RouteLists {
  private readonly patterns = new PatternIndex();
  private readonly routes = new RouteTable();
  /** The route of a call without a pattern constraint (connect(), an event nobody declares). */
  private anyRoute = new RouteState(undefined, 'patterns');
  /** Provider addresses the router holds in the channel cache (it asked for their connections). */
  private readonly held = new Set<string>();
  /** One candidate object per held provider, shared by the route lists. */
  private readonly candidates = new Map<string, ProviderCandidate>();
  private version = 0;

  constructor(
    private readonly directory: Directory,
    private readonly channels: ChannelCache,
    private readonly outliers: OutlierDetector | undefined,
    private readonly onNewRoute: (state: RouteState) => void,
  ) {}

  /** Something the lists depend on changed (a provider, a connection's availability). */
  changed(): void {
    this.version++;
  }

  /** The router now holds the provider's connections. */
  hold(address: string): void {
    if (this.held.has(address)) return;
    this.held.add(address);
    this.version++;
  }

  /** The router let go of the provider. */
  drop(address: string): void {
    this.held.delete(address);
    this.candidates.delete(address);
    this.version++;
  }

  isHeld(address: string): boolean {
    return this.held.has(address);
  }

  /** The held providers' addresses; copy it before a walk that may hold or drop some. */
  get heldAddresses(): ReadonlySet<string> {
    return this.held;
  }

  get routeCount(): number {
    return this.routes.size;
  }

  /**
   * The route's state with lists current for a pick; a route seen for the first time goes to
   * `onNewRoute` first.
   */
  current(route: RouteFilter | undefined): RouteState {
    const state = this.upToDate(route);
    const outliers = this.outliers;
    // Ejections decide between two or more candidates only: one is picked either way.
    if (outliers !== undefined && state.ready.length + state.ejected.length > 1) {
      // Lifts ejections that are over (one clock reading); a change moves the generation.
      outliers.tick();
      if (state.outlierGeneration !== outliers.generation) this.rebuild(state);
    }
    return state;
  }

  /** The providers serving the route (no clock reading: ejections do not matter here). */
  serving(route: RouteFilter | undefined): readonly ServiceInstance[] {
    return this.upToDate(route).serving;
  }

  private upToDate(route: RouteFilter | undefined): RouteState {
    let state: RouteState | undefined = route === undefined ? this.anyRoute : this.routes.get(route.pattern, route.kind);
    if (state === undefined) {
      state = this.routes.add(route!.pattern, route!.kind);
      this.rebuild(state);
      this.onNewRoute(state);
    }
    if (state.builtAt !== this.version) this.rebuild(state);
    return state;
  }

  /** Rebuilds the route's lists now, whatever the version says (a candidate turned out unavailable). */
  refresh(state: RouteState): void {
    this.version++;
    this.rebuild(state);
  }

  /** Whether a provider serves a route this router uses (one that joins is then connected at once). */
  wants(instance: ServiceInstance): boolean {
    for (const state of this.routes.all()) {
      if (this.serves(instance, { pattern: state.pattern!, kind: state.kind })) return true;
    }
    return false;
  }

  /**
   * Whether `instance` serves the route's pattern: its registration metadata says (discovery
   * mode), else the Hello of one of its connections (direct mode); not knowing counts as yes.
   */
  serves(instance: ServiceInstance, route: RouteFilter): boolean {
    const declared = this.patterns.lookup(instance, route.pattern, route.kind);
    if (declared !== undefined) return declared;
    let said: boolean | undefined;
    for (const c of this.channels.get(instance.id) ?? []) {
      const serves = c.serves(route.pattern, route.kind);
      if (serves) return true;
      said ??= serves;
    }
    return said !== false;
  }

  /** Forgets every route (the router closed); held providers are dropped one by one by the router. */
  reset(): void {
    this.routes.clear();
    this.anyRoute = new RouteState(undefined, 'patterns');
    this.version++;
  }

  private rebuild(state: RouteState): void {
    const route: RouteFilter | undefined = state.pattern === undefined ? undefined : { pattern: state.pattern, kind: state.kind };
    const serving: ServiceInstance[] = [];
    const ready: ProviderCandidate[] = [];
    let ejected: ProviderCandidate[] | undefined;
    for (const instance of this.directory.values()) {
      if (route && !this.serves(instance, route)) continue;
      serving.push(instance);
      const candidate = this.candidateFor(instance);
      if (candidate === undefined) continue;
      if (this.outliers?.isEjected(instance.id)) (ejected ??= []).push(candidate);
      else ready.push(candidate);
    }
    state.set(serving, ready, ejected, this.version, this.outliers?.generation ?? 0);
  }

  /** The provider as a candidate when the router holds it and one of its connections is available. */
  private candidateFor(instance: ServiceInstance): ProviderCandidate | undefined {
    if (!this.held.has(instance.id)) return undefined;
    const connections = this.channels.get(instance.id);
    if (connections === undefined || this.channels.pickAvailable(instance.id) === undefined) return undefined;
    let candidate = this.candidates.get(instance.id);
    if (candidate === undefined || candidate.instance !== instance || candidate.connections !== connections) {
      candidate = new ProviderCandidate(instance, connections);
      this.candidates.set(instance.id, candidate);
    }
    return candidate;
  }
}
