import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { Balancer, Candidate, PickContext } from '../balancer/balancer.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { Connection } from '../connection/connection.js';
import { Directory } from '../directory/directory.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoHandlerError } from '../errors/no-handler-error.js';
import { NoProviderError, ProviderFailure } from '../errors/no-provider-error.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { OutlierDetector } from '../routing/outlier-detector.js';
import { PatternIndex, PatternKind } from '../routing/pattern-index.js';

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

interface RouteCandidate extends Candidate {
  connection: Connection;
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
 * Chooses the connection for a call: usable providers from the directory → an available
 * connection from the channel cache → the balancer. When none is ready it follows gRPC: a call
 * waits while a connect attempt that may serve it is under way (or not started yet), and fails
 * fast with the providers' failures once every one of them failed its latest attempt; with
 * `waitForReady` it waits through failures too, bounded by its deadline, and hurries reconnects.
 */
export class ProviderRouter {
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  private readonly patterns = new PatternIndex();

  constructor(
    private readonly service: string,
    private readonly directory: Directory,
    private readonly channels: ChannelCache,
    private readonly balancer: Balancer,
    private readonly discovery: RouterDiscovery,
    private readonly clock: Clock = systemClock,
    private readonly outliers?: OutlierDetector,
  ) {}

  /**
   * A ready connection now, or undefined. The hot path: no allocation beyond the candidate list.
   * With a route: only providers serving its pattern; ejected outliers and providers that already
   * failed the call only when nothing better is there.
   */
  pickNow(context?: PickContext, route?: RouteFilter): Connection | undefined {
    const instances = this.directory.list();
    if (instances.length === 1) {
      const only = instances[0];
      if (!route) return this.channels.pickAvailable(only.id);
      const declared = this.patterns.lookup(only, route.pattern, route.kind);
      if (declared === false) return undefined;
      const connection = this.channels.pickAvailable(only.id);
      // Undeclared in the registration (direct mode): the provider's Hello may say.
      return connection && (declared || connection.serves(route.pattern, route.kind) !== false) ? connection : undefined;
    }
    this.outliers?.tick();
    let candidates: RouteCandidate[] = [];
    let ejected: RouteCandidate[] | undefined;
    let excluded: RouteCandidate[] | undefined;
    let otherServing = false;
    for (const instance of instances) {
      if (route && !this.servesRoute(instance, route)) continue;
      const isExcluded = route?.exclude?.has(instance.id) === true;
      if (!isExcluded) otherServing = true;
      const connection = this.channels.pickAvailable(instance.id);
      if (!connection) continue;
      const candidate = { instance, connection, inFlight: this.channels.inFlight(instance.id) };
      if (isExcluded) (excluded ??= []).push(candidate);
      else if (this.outliers?.isEjected(instance.id)) (ejected ??= []).push(candidate);
      else candidates.push(candidate);
    }
    // A provider that just failed this call is retried at once only when it is the only one
    // serving it; when another is known but not ready yet, waiting for that one is the better bet
    // for a moment (pick() then relaxes the route after EXCLUDED_GRACE_MS).
    if (candidates.length === 0) candidates = ejected ?? (otherServing ? [] : (excluded ?? []));
    return this.balancer.pick(candidates, context)?.connection;
  }

  /**
   * True when providers are known but none of them serves the route's pattern (by its registration
   * metadata, or the Hello of a provider that connected): the call can fail at once.
   */
  isUnserved(route: RouteFilter): boolean {
    const instances = this.directory.list();
    if (instances.length === 0) return false;
    for (const instance of instances) if (this.servesRoute(instance, route)) return false;
    return true;
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
    this.kick();
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

  /** Opens connections to every known provider that has none yet. */
  connectAll(): void {
    for (const instance of this.directory.list()) this.connect(instance);
  }

  connect(instance: ServiceInstance): void {
    if (this.closed) return;
    this.channels.ensure(instance.host, instance.port, this);
    this.channels.connectIdle(instance.id);
    // A shared cache may hand over a connection another client already made ready: no state
    // change will follow, so waiting calls must be served now or they wait until their timeout.
    if (this.waiters.size > 0 && this.channels.pickAvailable(instance.id)) this.onAvailable();
  }

  /**
   * The registry announced a known provider again with a new registration (it restarted on the
   * same address): a connection lost to it is worth trying now, not at its next backoff tick,
   * which can be up to the backoff cap away after a long outage.
   */
  onUpdated(instance: ServiceInstance): void {
    if (this.closed) return;
    this.channels.reconnectSoon(instance.id, 'the registry announced it again');
  }

  /** The provider left this router's directory: let go of its connections. */
  release(address: string, reason: string, graceMs: number): void {
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
   * Why a call on `route` cannot be served and waiting would not help, or undefined (it waits).
   * When every provider serving the route refused our credentials (AuthError, TlsHandshakeError),
   * that refusal, whatever `waitForReady` says: retrying the same credentials cannot succeed. Else,
   * without `waitForReady`: a NoProviderError once every provider serving the route failed its
   * latest connect attempt (none connecting, ready, lost after being ready, or not tried yet), or
   * once the registry answered that none is registered. Off the hot path: only consulted when no
   * connection is ready.
   */
  private failureFor(route: RouteFilter | undefined, waitForReady: boolean): Error | undefined {
    const instances = this.directory.list();
    if (instances.length === 0) {
      if (waitForReady || !this.discovery.answered) return undefined;
      return new NoProviderError(this.service, 'no provider is registered', { pattern: route?.pattern });
    }
    const failures: ProviderFailure[] = [];
    let refusal: Error | undefined;
    let allRefused = true;
    for (const instance of instances) {
      if (route && !this.servesRoute(instance, route)) continue;
      const connections = this.channels.get(instance.id);
      if (!connections || connections.length === 0) return undefined;
      let first: Error | undefined;
      for (const c of connections) {
        const failure = c.state === 'transient-failure' ? c.lastAttemptFailure : undefined;
        if (!failure) return undefined;
        first ??= failure;
        if (c.rejection) refusal ??= c.rejection;
        else allRefused = false;
      }
      failures.push({ address: instance.id, error: first! });
    }
    if (failures.length === 0) return undefined;
    if (allRefused) return refusal;
    if (waitForReady) return undefined;
    return new NoProviderError(this.service, `the latest connect attempt of every provider failed`, {
      pattern: route?.pattern,
      failures,
    });
  }

  /** The error of a wait that ran out of time: what was known, and why none was ready. */
  private expired(timeoutMs: number, route: RouteFilter | undefined): NoProviderError {
    const known = this.directory.size;
    const failures: ProviderFailure[] = [];
    for (const instance of this.directory.list()) {
      if (route && !this.servesRoute(instance, route)) continue;
      const failed = this.channels.get(instance.id)?.find((c) => c.lastAttemptFailure !== undefined);
      if (failed) failures.push({ address: instance.id, error: failed.lastAttemptFailure! });
    }
    const registryError = this.discovery.lastError;
    let detail: string;
    if (known > 0) detail = `none of ${known} known provider(s) became ready within ${timeoutMs} ms`;
    else if (registryError) detail = `no provider known after ${timeoutMs} ms: the registry failed (${registryError.message})`;
    else if (this.discovery.answered) detail = `no provider was registered within ${timeoutMs} ms`;
    else detail = `no answer from the registry within ${timeoutMs} ms`;
    return new NoProviderError(this.service, detail, {
      pattern: route?.pattern,
      failures,
      waitedMs: timeoutMs,
      cause: failures.length === 0 ? registryError : undefined,
    });
  }

  /**
   * Whether `instance` serves the route's pattern: its registration metadata says (discovery
   * mode), else the Hello of one of its connections (direct mode); not knowing counts as yes.
   */
  private servesRoute(instance: ServiceInstance, route: RouteFilter): boolean {
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

  get hasAvailable(): boolean {
    return this.pickNow() !== undefined;
  }

  /** Providers of this router with at least one ready connection. */
  readyProviderCount(): number {
    let n = 0;
    for (const instance of this.directory.list()) {
      if ((this.channels.get(instance.id) ?? []).some((c) => c.state === 'ready')) n++;
    }
    return n;
  }

  /** Fails every waiting pick and lets go of every provider's connections; {@link reopen} undoes it. */
  close(graceMs = 0): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) {
      this.dropWaiter(waiter);
      waiter.reject(new ClientClosedError('client closed while the call waited for a provider'));
    }
    for (const instance of this.directory.list()) this.release(instance.id, 'client closed', graceMs);
  }

  /** Routes again after {@link close}: connections are opened afresh as providers are added. */
  reopen(): void {
    this.closed = false;
  }

  /** Nothing is ready: make sure something is on its way. */
  private kick(): void {
    if (this.directory.size === 0) this.discovery.requestResolution();
    this.connectAll();
    this.hurryReconnects();
  }

  /**
   * A call would otherwise wait behind a reconnect backoff (up to its cap) for a provider that may
   * be back already; the watchdog spaces these hints per connection, however many calls wait.
   */
  private hurryReconnects(): void {
    for (const instance of this.directory.list()) this.channels.reconnectSoon(instance.id, 'a call is waiting for a provider');
  }
}

function settled(promise: Promise<Connection>): PendingPick {
  promise.catch(() => undefined);
  return { promise, cancel: () => undefined };
}
