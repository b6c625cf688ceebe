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
}

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
    // A provider that just failed this call is retried only when it is the only one serving it;
    // when another is known but not ready yet, waiting for that one is the better bet.
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
    this.kick();
    let waiter!: Waiter;
    const promise = new Promise<Connection>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        context,
        route,
        timer: this.clock.setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.noProviderError(timeoutMs, route?.pattern));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
    return {
      promise,
      cancel: () => {
        // An unsubscribed call stops waiting at once instead of holding a timer until its timeout.
        if (this.waiters.delete(waiter)) this.clock.clearTimeout(waiter.timer);
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

  /** The provider left this router's directory: let go of its connections. */
  release(address: string, reason: string, graceMs: number): void {
    this.channels.release(address, this, reason, graceMs);
  }

  /** Some connection became available (ready, or a draining one was replaced): serve waiters. */
  onAvailable(): void {
    for (const waiter of [...this.waiters]) {
      // Waiters differ by pattern: one finding nothing does not mean the next one will not.
      const connection = this.pickNow(waiter.context, waiter.route);
      if (!connection) continue;
      this.waiters.delete(waiter);
      this.clock.clearTimeout(waiter.timer);
      waiter.resolve(connection);
    }
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
    for (const waiter of this.waiters) {
      this.clock.clearTimeout(waiter.timer);
      waiter.reject(new ClientClosedError('client closed while the call waited for a provider'));
    }
    this.waiters.clear();
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
