import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { Observable, throwError } from 'rxjs';
import { WeightedRandomBalancer } from '../balancer/weighted-random-balancer.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { Connection } from '../connection/connection.js';
import { ConnectionState } from '../connection/connection-state.js';
import { Directory, isUsable, RemovalReason } from '../directory/directory.js';
import { DirectorySnapshotStore } from '../directory/directory-snapshot.js';
import { serviceName } from '../common/service-name.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import { MessageCodec } from '../protocol/message-codec.js';
import type { Registry } from '../registry/registry.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import { StaticRegistry } from '../registry/static-registry.js';
import { MsRpcClientOptions, ResolvedClientOptions, resolveClientOptions } from './client-options.js';
import { ProviderRouter } from './provider-router.js';

/** Events emitted through `client.on(event, listener)`. */
export interface MsRpcClientEvents {
  /** Every connection state change, with the provider address. */
  'connection-state': (event: { address: string; from: ConnectionState; to: ConnectionState; reason?: Error }) => void;
  /** A provider failed every reconnect attempt and left the instance cache. */
  evicted: (event: { address: string; attempts: number; reason?: Error }) => void;
  /** Aggregate status: 'connected' while at least one provider connection is ready. */
  status: (status: MsRpcClientStatus) => void;
  /** An unexpected internal or registry error (logged as well). */
  error: (error: Error) => void;
}

export type MsRpcClientStatus = 'connected' | 'disconnected';

/** How often a retiring provider's connections are checked for calls still in flight. */
const RETIRE_POLL_MS = 25;

/**
 * The Nest `ClientProxy` of this transport. Thin: calls go router → channel cache →
 * connection; discovery, reconnects and liveness live in the layers below.
 */
export class MsRpcClient extends ClientProxy {
  private readonly options: ResolvedClientOptions;
  private readonly logger: MsRpcLogger;
  private readonly clock: Clock;
  private readonly events = new EventEmitter();
  private readonly registry: Registry;
  private readonly directory: Directory;
  private readonly channels: ChannelCache;
  private readonly watchdog: ReconnectWatchdog;
  private readonly router: ProviderRouter;
  private readonly instancesListener = (instances: ServiceInstance[]) => {
    this.directory.update(instances);
    // Only a list with a usable provider replaces the snapshot (the directory's empty-push
    // protection, applied to the file): a registry that cannot be reached answers a fresh
    // subscription with `[]` (the nacos client does), and saving that wiped the snapshot a consumer
    // had just started from, so the next consumer started during the same outage found nothing.
    if (instances.some(isUsable)) void this.snapshots?.save(this.serviceName, this.groupName, instances);
  };
  /** Discovery name (`service` or `service:version`). */
  private readonly serviceName: string;
  private readonly groupName: string;
  private readonly snapshots: DirectorySnapshotStore | undefined;
  private started: Promise<void> | undefined;
  /** The re-resolution in flight, shared by every caller that asks meanwhile. */
  private resolving: Promise<void> | undefined;
  private closed = false;
  private readyConnections = 0;
  /** Providers that left discovery, whose connections close once their calls finished. */
  private readonly retiring = new Map<string, TimerHandle>();

  constructor(options: Partial<MsRpcClientOptions> = {}, clock: Clock = systemClock) {
    super();
    this.options = resolveClientOptions(options);
    this.logger = this.options.logger ?? new Logger('MsRpcClient');
    this.clock = clock;
    this.initializeSerializer(options as never);
    this.initializeDeserializer(options as never);
    this.registry = this.options.registry ?? new StaticRegistry(this.options.providers ?? []);
    this.serviceName = serviceName(this.options.service, this.options.version);
    this.groupName = this.options.group ?? 'DEFAULT_GROUP';
    if (this.options.registry && this.options.snapshotDir !== false) {
      this.snapshots = new DirectorySnapshotStore(this.options.snapshotDir, this.logger);
    }
    const codec = new MessageCodec(this.options);
    this.channels = new ChannelCache(
      (host, port) =>
        new Connection(host, port, this.options, codec, {
          onStateChange: (c, from, to, reason) => this.onStateChange(c, from, to, reason),
          onGoAway: () => this.router.connectAll(),
        }, this.logger, clock),
      this.options.connectionsPerProvider,
    );
    this.watchdog = new ReconnectWatchdog(
      this.options.backoff,
      { onExhausted: (c, attempts, reason) => this.onExhausted(c, attempts, reason) },
      this.logger,
      clock,
    );
    this.directory = new Directory(
      this.serviceName,
      {
        onAdded: (instance) => {
          this.cancelRetirement(instance.id);
          this.router.connect(instance);
        },
        onRemoved: (instance, why) => this.retire(instance.id, why),
      },
      this.logger,
    );
    this.router = new ProviderRouter(
      this.serviceName,
      this.directory,
      this.channels,
      new WeightedRandomBalancer(),
      () => void this.resolve(),
      clock,
    );
    this._status$.next('disconnected');
  }

  /**
   * Starts discovery and resolves once at least one provider connection is ready; rejects
   * with NoProviderError after `connectTimeout`. Calls do not need it: they wait for a
   * provider on their own, bounded by their timeout.
   */
  async connect(): Promise<void> {
    if (this.closed) throw new ClientClosedError();
    if (this.router.hasAvailable) return;
    await this.start();
    await this.router.pick(this.options.connectTimeout);
  }

  /**
   * Like Nest's, minus the `connect()` before each call: a call waits for a provider itself,
   * within its own timeout, instead of inheriting connect()'s timeout.
   */
  override send<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    return new Observable<TResult>((observer) =>
      this.publish(this.createPacket(pattern, data), this.createObserver(observer)),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.router.close();
    this.watchdog.close();
    for (const timer of this.retiring.values()) this.clock.clearTimeout(timer);
    this.retiring.clear();
    this.channels.close('client closed');
    try {
      await this.registry.unsubscribe(this.serviceName, this.instancesListener, this.options.group);
    } catch (err) {
      this.logger.warn(`unsubscribe from ${this.registry.kind} failed: ${(err as Error).message}`);
    }
    if (!this.options.registry) await this.registry.close();
    await this.snapshots?.flush();
    this.events.removeAllListeners();
  }

  override on<K extends keyof MsRpcClientEvents>(event: K, callback: MsRpcClientEvents[K]): void;
  override on(event: string, callback: (...args: never[]) => void): void;
  override on(event: string, callback: (...args: never[]) => void): void {
    this.events.on(event, callback as (...args: unknown[]) => void);
  }

  /** The channel cache (connections per provider), for diagnostics. */
  unwrap<T>(): T {
    return this.channels as T;
  }

  /** Addresses of the providers currently in the instance cache. */
  get providers(): string[] {
    return this.directory.list().map((i) => i.id);
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const pattern = this.normalizePattern(packet.pattern);
    const timeoutMs = this.options.timeout;
    let connection: Connection | undefined;
    let requestId = 0;
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      callback({ err });
    };
    const dispatch = (target: Connection, remainingMs: number) => {
      if (done) return;
      try {
        connection = target;
        requestId = target.call(pattern, packet.data, packet.metadata, remainingMs, {
          onValue: (response) => callback({ response }),
          onEnd: (hasData, response) => {
            done = true;
            callback(hasData ? { response, isDisposed: true } : { isDisposed: true });
          },
          onError: (err) => fail(err ?? new Error('Remote error without details')),
        });
      } catch (err) {
        fail(err);
      }
    };
    if (this.closed) {
      fail(new ClientClosedError());
      return () => undefined;
    }
    const ready = this.router.pickNow();
    if (ready) {
      dispatch(ready, timeoutMs);
    } else {
      const startedAt = this.clock.now();
      void this.start();
      this.router.pick(timeoutMs).then(
        (target) => dispatch(target, Math.max(1, timeoutMs - (this.clock.now() - startedAt))),
        (err) => fail(err instanceof ClientClosedError ? err : new RpcTimeoutError(pattern, timeoutMs, { cause: err })),
      );
    }
    return () => {
      if (done) return;
      done = true;
      if (connection && requestId) connection.cancel(requestId);
    };
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    if (this.closed) throw new ClientClosedError();
    const pattern = this.normalizePattern(packet.pattern);
    let target = this.router.pickNow();
    if (!target) {
      void this.start();
      target = await this.router.pick(this.options.timeout);
    }
    target.emit(pattern, packet.data, packet.metadata);
    return undefined as T;
  }

  /**
   * Loads the snapshot (if any), then subscribes to the registry, once; later calls share the
   * first start. The snapshot goes first so a fresh registry answer always wins over it.
   */
  private start(): Promise<void> {
    this.started ??= this.startDiscovery();
    return this.started;
  }

  private async startDiscovery(): Promise<void> {
    const saved = await this.snapshots?.load(this.serviceName, this.groupName);
    if (saved && saved.length > 0 && this.directory.size === 0 && !this.closed) {
      this.logger.log(`"${this.serviceName}": starting with ${saved.length} provider(s) from the snapshot`);
      this.directory.update(saved);
    }
    try {
      await this.registry.subscribe(this.serviceName, this.instancesListener, this.options.group);
    } catch (err) {
      this.started = undefined;
      this.logger.error(`subscribing to "${this.serviceName}" in ${this.registry.kind} failed: ${(err as Error).message}`);
      // An EventEmitter throws on an 'error' nobody listens to: report it only to listeners.
      if (this.events.listenerCount('error') > 0) this.events.emit('error', err);
    }
    this.router.connectAll();
  }

  /**
   * Re-resolution: asks the registry again (e.g. every provider was evicted). Every call that
   * finds no provider asks for it, so one lookup in flight serves them all: 200 waiting calls
   * used to send 200 registry queries at once.
   */
  private resolve(): Promise<void> {
    this.resolving ??= this.lookup().finally(() => (this.resolving = undefined));
    return this.resolving;
  }

  private async lookup(): Promise<void> {
    if (this.closed) return;
    await this.start();
    // The first discovery (still under way when the calls asked) may have filled the directory.
    if (this.closed || this.directory.size > 0) return;
    try {
      const instances = await this.registry.getInstances(this.serviceName, this.options.group);
      if (instances.length > 0) this.directory.update(instances);
    } catch (err) {
      this.logger.warn(`re-resolving "${this.serviceName}" failed: ${(err as Error).message}`);
    }
  }

  private onStateChange(connection: Connection, from: ConnectionState, to: ConnectionState, reason?: Error): void {
    this.watchdog.onStateChange(connection, to, reason);
    if (to === 'ready') this.readyConnections++;
    if (from === 'ready') this.readyConnections--;
    this.events.emit('connection-state', { address: connection.address, from, to, reason });
    if (to === 'ready') this.router.onAvailable();
    const status: MsRpcClientStatus = this.readyConnections > 0 ? 'connected' : 'disconnected';
    if ((to === 'ready' && this.readyConnections === 1) || (from === 'ready' && this.readyConnections === 0)) {
      this._status$.next(status);
      this.events.emit('status', status);
    }
  }

  /**
   * A provider left the directory. No new call goes to it (the router picks directory members
   * only), but calls already in flight on its connections are left to finish: a provider that
   * deregisters on a graceful shutdown still answers them, and closing at once failed every one of
   * them with ConnectionClosedError ("provider removed (registry)") although it would have
   * answered. The connections close as soon as they carry no call, and after one call timeout at
   * most (no call outlives it). Evicted providers are unreachable: closed at once.
   */
  private retire(address: string, why: RemovalReason): void {
    this.cancelRetirement(address);
    const reason = `provider removed (${why})`;
    const deadline = this.clock.now() + this.options.timeout;
    const check = () => {
      this.retiring.delete(address);
      const busy = (this.channels.get(address) ?? []).some((c) => c.inFlight > 0);
      if (why === 'evicted' || !busy || this.clock.now() >= deadline) {
        this.channels.remove(address, reason);
        return;
      }
      this.retiring.set(address, this.clock.setTimeout(check, RETIRE_POLL_MS));
    };
    check();
  }

  /** The provider is back in the directory: it keeps its connections. */
  private cancelRetirement(address: string): void {
    const timer = this.retiring.get(address);
    if (timer === undefined) return;
    this.clock.clearTimeout(timer);
    this.retiring.delete(address);
  }

  private onExhausted(connection: Connection, attempts: number, reason?: Error): void {
    this.directory.evict(connection.address);
    this.events.emit('evicted', { address: connection.address, attempts, reason });
  }
}
