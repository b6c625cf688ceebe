import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { Balancer, Candidate, PickContext } from '../balancer/balancer.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { Connection } from '../connection/connection.js';
import { Directory } from '../directory/directory.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import type { ServiceInstance } from '../registry/service-instance.js';

interface RouteCandidate extends Candidate {
  connection: Connection;
}

interface Waiter {
  resolve(connection: Connection): void;
  reject(error: Error): void;
  timer: TimerHandle;
  context: PickContext | undefined;
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

  constructor(
    private readonly service: string,
    private readonly directory: Directory,
    private readonly channels: ChannelCache,
    private readonly balancer: Balancer,
    /** Asks the layers above for a fresh provider list (re-resolution); may be async. */
    private readonly requestResolution: () => void,
    private readonly clock: Clock = systemClock,
  ) {}

  /** A ready connection now, or undefined. The hot path: no allocation beyond the candidate list. */
  pickNow(context?: PickContext): Connection | undefined {
    const instances = this.directory.list();
    if (instances.length === 1) return this.channels.pickAvailable(instances[0].id);
    const candidates: RouteCandidate[] = [];
    for (const instance of instances) {
      const connection = this.channels.pickAvailable(instance.id);
      if (connection) candidates.push({ instance, connection, inFlight: this.channels.inFlight(instance.id) });
    }
    return this.balancer.pick(candidates, context)?.connection;
  }

  /** A ready connection, waiting up to `timeoutMs` for one; rejects with NoProviderError. */
  pick(timeoutMs: number, context?: PickContext): PendingPick {
    if (this.closed) return settled(Promise.reject(new ClientClosedError()));
    const now = this.pickNow(context);
    if (now) return settled(Promise.resolve(now));
    this.kick();
    let waiter!: Waiter;
    const promise = new Promise<Connection>((resolve, reject) => {
      waiter = {
        resolve,
        reject,
        context,
        timer: this.clock.setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.noProviderError(timeoutMs));
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
  }

  /** The provider left this router's directory: let go of its connections. */
  release(address: string, reason: string, graceMs: number): void {
    this.channels.release(address, this, reason, graceMs);
  }

  /** Some connection became available (ready, or a draining one was replaced): serve waiters. */
  onAvailable(): void {
    for (const waiter of [...this.waiters]) {
      const connection = this.pickNow(waiter.context);
      if (!connection) return;
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

  private noProviderError(timeoutMs: number): NoProviderError {
    const known = this.directory.size;
    const detail =
      known === 0
        ? `no provider known after waiting ${timeoutMs} ms`
        : `none of ${known} known provider(s) became ready within ${timeoutMs} ms`;
    return new NoProviderError(this.service, detail);
  }
}

function settled(promise: Promise<Connection>): PendingPick {
  promise.catch(() => undefined);
  return { promise, cancel: () => undefined };
}
