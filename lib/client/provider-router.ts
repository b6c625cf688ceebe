import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { Balancer, PickContext } from '../balancer/balancer.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { Connection } from '../connection/connection.js';
import { Directory, RemovalReason } from '../directory/directory.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoHandlerError } from '../errors/no-handler-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { OutlierDetector } from '../routing/outlier-detector.js';
import type { PatternKind } from '../routing/pattern-index.js';
import { failFastError, waitExpiredError } from './pick-failures.js';
import type { ProviderCandidate } from './provider-candidate.js';
import { RouteLists } from './route-lists.js';
import type { RouteState } from './route-table.js';

/** What restricts the providers of one call. */
export interface RouteFilter {
  readonly pattern: string;
  /** Requests match providers' `patterns` metadata, events their `events`. */
  readonly kind: PatternKind;
  /** Providers that already failed this call: used only when no other serving provider is known. */
  readonly exclude?: ReadonlySet<string>;
}

/** What the router needs from discovery. */
export interface RouterDiscovery {
  /** Asks for a fresh provider list (re-resolution); may be async. */
  requestResolution(): void;
  /** The registry answered at least once: an empty directory then means nobody is registered. */
  readonly answered: boolean;
  /** The registry's last failure, if its latest request failed (says why nothing is known). */
  readonly lastError: Error | undefined;
}

interface Waiter {
  resolve(connection: Connection): void;
  reject(error: Error): void;
  timer: TimerHandle;
  context: PickContext | undefined;
  route: RouteFilter | undefined;
  waitForReady: boolean;
  /** Armed while the route's excluded providers are held back (see EXCLUDED_GRACE_MS). */
  fallbackTimer?: TimerHandle;
}

/**
 * How long a retry waits for a provider that has not failed it before going back to one that did
 * (at most a quarter of its remaining time). Found by the chaos soak: with the other providers
 * down, a call whose only live provider dropped its connection once waited for the dead ones
 * until its deadline, while that provider was back and ready within milliseconds.
 */
const EXCLUDED_GRACE_MS = 200;

/** A pick that may still be waiting for a provider; `cancel()` drops the wait. */
export interface PendingPick {
  readonly promise: Promise<Connection>;
  cancel(): void;
}

/**
 * Chooses the connection for a call: providers serving the call's route (directory) → a ready
 * connection (channel cache) → the balancer. When none is ready it follows gRPC: a call waits
 * while a connect attempt that may serve it is under way (or not started yet), and fails fast
 * with the providers' failures once every one of them failed its latest attempt; with
 * `waitForReady` it waits through failures too, bounded by its deadline, and hurries reconnects.
 *
 * Connections are opened lazily (docs/lazy-connections.md): a provider gets connections when the
 * client first routes a call or event to a pattern it serves (then every known provider serving
 * that pattern is connected, and so is every provider that joins later serving it), or on
 * `connect()`. Providers that serve nothing the client calls hold no Connection object and no
 * socket.
 *
 * Per route the candidate lists are cached, frozen, and rebuilt only when the directory, a
 * connection's availability or an ejection changed ({@link RouteLists}): a pick is a map lookup
 * and the balancer's own pick, whatever the number of providers.
 */
export class ProviderRouter {
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  private readonly lists: RouteLists;

  constructor(
    private readonly service: string,
    private readonly directory: Directory,
    private readonly channels: ChannelCache,
    private readonly balancer: Balancer,
    private readonly discovery: RouterDiscovery,
    private readonly clock: Clock = systemClock,
    outliers?: OutlierDetector,
  ) {
    // A route's first call connects every provider serving it.
    this.lists = new RouteLists(directory, channels, outliers, (state) => {
      if (!this.closed) for (const instance of state.serving) this.connect(instance);
    });
  }

  /**
   * A ready connection now, or undefined. The hot path: a route lookup, the balancer's pick over
   * the route's cached list, no allocation. With a route: only providers serving its pattern;
   * ejected outliers and providers that already failed the call only when nothing better is there.
   */
  pickNow(context?: PickContext, route?: RouteFilter): Connection | undefined {
    const state = this.lists.current(route);
    const exclude = route?.exclude;
    if (exclude !== undefined && exclude.size > 0) return this.pickExcluding(state, exclude, context);
    const list = state.ready.length > 0 ? state.ready : state.ejected;
    if (list.length === 0) return undefined;
    const picked = this.balancer.pick(list, context);
    if (picked === undefined) return undefined;
    // Availability changes are reported as they happen, so this is a formality; if a connection
    // went unavailable unannounced, the lists are rebuilt and the pick made once more.
    return picked.connection() ?? this.repick(state, context);
  }

  /**
   * True when providers are known but none of them serves the route's pattern (by its registration
   * metadata, or the Hello of a provider that connected): the call can fail at once.
   */
  isUnserved(route: RouteFilter): boolean {
    return this.directory.size > 0 && this.lists.serving(route).length === 0;
  }

  /**
   * A ready connection, waiting up to `timeoutMs` for one. Rejects with a NoProviderError when
   * waiting cannot help (see the class comment), or with one carrying `waitedMs` when the time
   * ran out; with the refusal itself when every provider refused our credentials.
   */
  pick(timeoutMs: number, context?: PickContext, route?: RouteFilter, waitForReady = false): PendingPick {
    if (this.closed) return settled(Promise.reject(new ClientClosedError()));
    const now = this.pickNow(context, route);
    if (now) return settled(Promise.resolve(now));
    const failure = this.failureFor(route, waitForReady);
    if (failure) {
      // The next call may find the provider back within the hurry gap rather than at the next
      // backoff tick (up to its cap away). Providers that refused our credentials are paced by the
      // watchdog's backoff alone, however many calls come.
      if (failure instanceof NoProviderError) this.hurryReconnects();
      return settled(Promise.reject(failure));
    }
    this.kick(route);
    let waiter!: Waiter;
    const promise = new Promise<Connection>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        context,
        route,
        waitForReady,
        timer: this.clock.setTimeout(() => {
          this.dropWaiter(waiter);
          reject(this.expired(timeoutMs, route));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
    if (route?.exclude && route.exclude.size > 0) {
      // The providers that failed this call are held back while another may come up, not for long:
      // afterwards any ready one will do (a reconnected provider is a fresh chance; a dead one is not coming).
      const relaxed: RouteFilter = { pattern: route.pattern, kind: route.kind };
      waiter.fallbackTimer = this.clock.setTimeout(
        () => {
          waiter.fallbackTimer = undefined;
          waiter.route = relaxed;
          if (this.waiters.has(waiter)) this.serve(waiter);
        },
        Math.min(EXCLUDED_GRACE_MS, Math.max(1, Math.floor(timeoutMs / 4))),
      );
    }
    return {
      promise,
      cancel: () => {
        // An unsubscribed call stops waiting at once instead of holding a timer until its timeout.
        this.dropWaiter(waiter);
      },
    };
  }

  /** Opens connections to every known provider that has none yet (what `connect()` asks for). */
  connectAll(): void {
    for (const instance of [...this.directory.values()]) this.connect(instance);
  }

  /** Holds the provider in the channel cache and starts connecting what is idle there. */
  connect(instance: ServiceInstance): void {
    if (this.closed) return;
    const connections = this.channels.ensure(instance.host, instance.port, this);
    if (connections.length === 0) return; // the channel cache is closed
    this.lists.hold(instance.id);
    this.channels.connectIdle(instance.id);
    // A shared cache may hand over a connection another client already made ready: no state
    // change will follow, so waiting calls must be served now or they wait until their timeout.
    if (this.waiters.size > 0 && this.channels.pickAvailable(instance.id)) this.onAvailable();
  }

  /** A provider joined the directory: connected at once when it serves a route this client uses. */
  onAdded(instance: ServiceInstance): void {
    this.lists.changed();
    if (!this.closed && this.lists.wants(instance)) this.connect(instance);
  }

  /**
   * The provider left the directory: it gets no new call; its connections close once their calls
   * are answered, after `graceMs` at most.
   */
  onRemoved(instance: ServiceInstance, why: RemovalReason, graceMs: number): void {
    this.release(instance.id, `provider removed (${why})`, graceMs);
  }

  /**
   * The registry announced a known provider again with a new registration (it restarted on the
   * same address): a connection lost to it is worth trying now, not at its next backoff tick,
   * which can be up to the backoff cap away after a long outage.
   */
  onUpdated(instance: ServiceInstance): void {
    this.lists.changed();
    if (this.closed) return;
    this.channels.reconnectSoon(instance.id, 'the registry announced it again');
  }

  /**
   * A directory update is applied. Calls waiting for providers of a pattern nobody turned out to
   * serve fail now; the others may find a joiner ready (a shared channel cache's).
   */
  onChanged(): void {
    if (this.waiters.size > 0) this.onAvailable();
  }

  /** A connection of one of this router's providers changed state, or its server is draining. */
  onConnectionChanged(): void {
    this.lists.changed();
  }

  /** The provider left this router's directory (or the client closed): let go of its connections. */
  release(address: string, reason: string, graceMs: number): void {
    this.lists.drop(address);
    this.channels.release(address, this, reason, graceMs);
  }

  /**
   * Some connection became available (ready, or a draining one was replaced): serve waiters. A
   * provider's Hello may also have told that nobody serves a waiter's pattern: that one fails now.
   */
  onAvailable(): void {
    // Waiters differ by pattern: one finding nothing does not mean the next one will not.
    for (const waiter of [...this.waiters]) {
      const route = waiter.route;
      if (route?.kind === 'patterns' && this.isUnserved(route)) {
        this.dropWaiter(waiter);
        waiter.reject(new NoHandlerError(route.pattern, this.service, `none of ${this.directory.size} known provider(s) serves it`));
      } else {
        this.serve(waiter);
      }
    }
  }

  /**
   * A connect attempt failed: waiters that waiting can no longer help fail now, with every
   * provider's failure; those that wait for ready have the next attempts hurried (the watchdog
   * spaces them, so a provider that comes back answers them within its expedite gap).
   */
  onAttemptFailed(): void {
    for (const waiter of [...this.waiters]) {
      const failure = this.failureFor(waiter.route, waiter.waitForReady);
      if (!failure) continue;
      this.dropWaiter(waiter);
      waiter.reject(failure);
    }
    if (this.waiters.size > 0) this.hurryReconnects();
  }

  get hasAvailable(): boolean {
    return this.pickNow() !== undefined;
  }

  /** Providers of this router with at least one ready connection. */
  readyProviderCount(): number {
    let n = 0;
    for (const address of this.lists.heldAddresses) if (this.isReady(address)) n++;
    return n;
  }

  /** Whether any provider of this router has a ready connection (stops at the first). */
  hasReadyProvider(): boolean {
    for (const address of this.lists.heldAddresses) if (this.isReady(address)) return true;
    return false;
  }

  /** Providers this router holds connections to (diagnostics and tests). */
  get connectedProviderCount(): number {
    return this.lists.heldAddresses.size;
  }

  /** Routes remembered, at most MAX_ROUTES of each kind (diagnostics and tests). */
  get routeCount(): number {
    return this.lists.routeCount;
  }

  /** Fails every waiting pick and lets go of every provider's connections; {@link reopen} undoes it. */
  close(graceMs = 0): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) {
      this.dropWaiter(waiter);
      waiter.reject(new ClientClosedError('client closed while the call waited for a provider'));
    }
    for (const address of [...this.lists.heldAddresses]) this.release(address, 'client closed', graceMs);
    // A client used again starts from nothing: its routes connect their providers on first use.
    this.lists.reset();
  }

  /** Routes again after {@link close}: connections are opened afresh as calls need them. */
  reopen(): void {
    this.closed = false;
  }

  private repick(state: RouteState, context: PickContext | undefined): Connection | undefined {
    this.lists.refresh(state);
    const list = state.ready.length > 0 ? state.ready : state.ejected;
    return list.length === 0 ? undefined : this.balancer.pick(list, context)?.connection();
  }

  /**
   * A retry: providers that already failed the call are retried at once only when they are the
   * only ones serving it; when another is known but not ready yet, waiting for that one is the
   * better bet for a moment (pick() then relaxes the route after EXCLUDED_GRACE_MS).
   */
  private pickExcluding(state: RouteState, exclude: ReadonlySet<string>, context: PickContext | undefined): Connection | undefined {
    let candidates: ProviderCandidate[] = [];
    let ejected: ProviderCandidate[] | undefined;
    let excluded: ProviderCandidate[] | undefined;
    for (const c of state.ready) (exclude.has(c.instance.id) ? (excluded ??= []) : candidates).push(c);
    for (const c of state.ejected) {
      if (exclude.has(c.instance.id)) (excluded ??= []).push(c);
      else (ejected ??= []).push(c);
    }
    let otherServing = false;
    for (const instance of state.serving) {
      if (!exclude.has(instance.id)) {
        otherServing = true;
        break;
      }
    }
    if (candidates.length === 0) candidates = ejected ?? (otherServing ? [] : (excluded ?? []));
    return this.balancer.pick(candidates, context)?.connection();
  }

  private isReady(address: string): boolean {
    if (!this.directory.get(address)) return false;
    for (const c of this.channels.get(address) ?? []) if (c.state === 'ready') return true;
    return false;
  }

  /** Hands `waiter` a ready connection if its route has one now. */
  private serve(waiter: Waiter): void {
    const connection = this.pickNow(waiter.context, waiter.route);
    if (!connection) return;
    this.dropWaiter(waiter);
    waiter.resolve(connection);
  }

  /** Forgets a waiter and clears its timers (a no-op once it stopped waiting). */
  private dropWaiter(waiter: Waiter): void {
    if (!this.waiters.delete(waiter)) return;
    this.clock.clearTimeout(waiter.timer);
    if (waiter.fallbackTimer !== undefined) this.clock.clearTimeout(waiter.fallbackTimer);
  }

  /**
   * Why a call on `route` cannot be served and waiting would not help, or undefined (it waits): a
   * NoProviderError once the registry answered that none is registered (without `waitForReady`),
   * else what {@link failFastError} finds among the providers serving the route. Off the hot path:
   * only consulted when no connection is ready.
   */
  private failureFor(route: RouteFilter | undefined, waitForReady: boolean): Error | undefined {
    if (this.directory.size === 0) {
      if (waitForReady || !this.discovery.answered) return undefined;
      return new NoProviderError(this.service, 'no provider is registered', { pattern: route?.pattern });
    }
    const serving = this.lists.serving(route);
    return failFastError(this.service, serving, this.channels, (address) => this.lists.isHeld(address), route, waitForReady);
  }

  private expired(timeoutMs: number, route: RouteFilter | undefined): NoProviderError {
    const known = this.directory.size;
    const serving = known > 0 ? this.lists.serving(route) : [];
    return waitExpiredError(this.service, known, serving, this.channels, this.discovery, timeoutMs, route);
  }

  /**
   * Nothing is ready: make sure something is on its way. For a route, every provider serving it
   * (a route in use has them connected already; this catches what changed since); without one
   * (connect(), an event nobody declares), every known provider.
   */
  private kick(route: RouteFilter | undefined): void {
    if (this.directory.size === 0) this.discovery.requestResolution();
    if (route === undefined) this.connectAll();
    else for (const instance of this.lists.serving(route)) this.connect(instance);
    this.hurryReconnects();
  }

  /**
   * A call would otherwise wait behind a reconnect backoff (up to its cap) for a provider that may
   * be back already; the watchdog spaces these hints per connection, however many calls wait.
   */
  private hurryReconnects(): void {
    for (const address of this.lists.heldAddresses) this.channels.reconnectSoon(address, 'a call is waiting for a provider');
  }
}

function settled(promise: Promise<Connection>): PendingPick {
  promise.catch(() => undefined);
  return { promise, cancel: () => undefined };
}
