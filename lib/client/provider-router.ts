import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { Balancer, Candidate, PickContext } from '../balancer/balancer.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { Connection } from '../connection/connection.js';
import { Directory } from '../directory/directory.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
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

interface RouteCandidate extends Candidate {
  connection: Connection;
}

interface Waiter {
  resolve(connection: Connection): void;
  reject(error: Error): void;
  timer: TimerHandle;
  context: PickContext | undefined;
  route: RouteFilter | undefined;
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
 * connection from the channel cache → the balancer. When none is ready it waits (like gRPC's
 * wait-for-ready), bounded by the caller's deadline, while connections come up.
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
    /** Asks the layers above for a fresh provider list (re-resolution); may be async. */
    private readonly requestResolution: () => void,
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
      return !route || this.patterns.serves(only, route.pattern, route.kind) ? this.channels.pickAvailable(only.id) : undefined;
    }
    this.outliers?.tick();
    let candidates: RouteCandidate[] = [];
    let ejected: RouteCandidate[] | undefined;
    let excluded: RouteCandidate[] | undefined;
    let otherServing = false;
    for (const instance of instances) {
      if (route && !this.patterns.serves(instance, route.pattern, route.kind)) continue;
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
   * True when providers are known but none of them serves the route's pattern: the call can fail
   * at once instead of waiting for its timeout.
   */
  isUnserved(route: RouteFilter): boolean {
    const instances = this.directory.list();
    if (instances.length === 0) return false;
    for (const instance of instances) if (this.patterns.serves(instance, route.pattern, route.kind)) return false;
    return true;
  }

  /** A ready connection, waiting up to `timeoutMs` for one; rejects with NoProviderError. */
  pick(timeoutMs: number, context?: PickContext, route?: RouteFilter): PendingPick {
    if (this.closed) return settled(Promise.reject(new ClientClosedError()));
    const now = this.pickNow(context, route);
    if (now) return settled(Promise.resolve(now));
    // Every provider refused our credentials: fail now, before kick() would hurry their
    // reconnects; the watchdog's backoff alone paces those, however many calls come.
    const refused = this.rejectionFor(route);
    if (refused) return settled(Promise.reject(refused));
    this.kick();
    let waiter!: Waiter;
    const promise = new Promise<Connection>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        context,
        route,
        timer: this.clock.setTimeout(() => {
          this.dropWaiter(waiter);
          reject(this.noProviderError(timeoutMs, route?.pattern));
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

  /** Some connection became available (ready, or a draining one was replaced): serve waiters. */
  onAvailable(): void {
    // Waiters differ by pattern: one finding nothing does not mean the next one will not.
    for (const waiter of [...this.waiters]) this.serve(waiter);
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

  /** A provider refused us (token, TLS): fail at once the waiters no other provider can serve. */
  onRejected(): void {
    for (const waiter of [...this.waiters]) {
      const refused = this.rejectionFor(waiter.route);
      if (!refused) continue;
      this.dropWaiter(waiter);
      waiter.reject(refused);
    }
  }

  /**
   * The security refusal (AuthError, TlsHandshakeError) of the last connect, when every known
   * provider serving the route refused: waiting cannot help (the watchdog keeps retrying with its
   * backoff), so calls fail with it now instead of at their timeout. Off the hot path: only
   * consulted when no connection is ready.
   */
  private rejectionFor(route?: RouteFilter): Error | undefined {
    let rejection: Error | undefined;
    for (const instance of this.directory.list()) {
      if (route && !this.patterns.serves(instance, route.pattern, route.kind)) continue;
      const connections = this.channels.get(instance.id);
      if (!connections || connections.length === 0) return undefined;
      for (const c of connections) {
        const refused = c.rejection;
        if (!refused) return undefined;
        rejection ??= refused;
      }
    }
    return rejection;
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

  close(graceMs = 0): void {
    this.closed = true;
    for (const waiter of [...this.waiters]) {
      this.dropWaiter(waiter);
      waiter.reject(new ClientClosedError('client closed while the call waited for a provider'));
    }
    for (const instance of this.directory.list()) this.release(instance.id, 'client closed', graceMs);
  }

  /** Nothing is ready: make sure something is on its way. */
  private kick(): void {
    if (this.directory.size === 0) {
      // Providers evicted after failing every reconnect get one more chance when a call needs them.
      this.directory.readmitEvicted();
      if (this.directory.size === 0) this.requestResolution();
    }
    this.connectAll();
    // A call would otherwise wait behind a reconnect backoff (up to its cap) for a provider that
    // may be back already; the watchdog rate-limits these hints.
    for (const instance of this.directory.list()) this.channels.reconnectSoon(instance.id, 'a call is waiting for a provider');
  }

  private noProviderError(timeoutMs: number, pattern?: string): NoProviderError {
    const known = this.directory.size;
    const detail =
      known === 0
        ? `no provider known after waiting ${timeoutMs} ms`
        : `none of ${known} known provider(s) became ready within ${timeoutMs} ms`;
    return new NoProviderError(this.service, detail, { pattern });
  }
}

function settled(promise: Promise<Connection>): PendingPick {
  promise.catch(() => undefined);
  return { promise, cancel: () => undefined };
}
