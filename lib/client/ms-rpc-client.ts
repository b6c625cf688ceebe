import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { connectable, defer, Observable, Subject, throwError } from 'rxjs';
import { PickContext } from '../balancer/balancer.js';
import { BalancerRegistry } from '../balancer/balancer-registry.js';
import { ChannelCache } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import { Clock, systemClock } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { serviceName } from '../common/service-name.js';
import { Connection } from '../connection/connection.js';
import { ConnectionState } from '../connection/connection-state.js';
import { Directory } from '../directory/directory.js';
import { DirectorySnapshotStore } from '../directory/directory-snapshot.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import type { HealthSource } from '../health/health-source.js';
import { NO_PROVIDER_LABEL } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Registry } from '../registry/registry.js';
import { StaticRegistry } from '../registry/static-registry.js';
import { OutlierDetector } from '../routing/outlier-detector.js';
import { RetryBudget } from '../routing/retry-budget.js';
import { isProviderFailure, isRetryable } from '../routing/retry-policy.js';
import { MsRpcClientOptions, ResolvedClientOptions, resolveClientOptions } from './client-options.js';
import { MsRpcRecord } from './ms-rpc-record.js';
import { ProviderRouter } from './provider-router.js';
import { ServiceDiscovery } from './service-discovery.js';

/** Events emitted through `client.on(event, listener)`. */
export interface MsRpcClientEvents {
  /** Every state change of this client's provider connections, with the provider address. */
  'connection-state': (event: { address: string; from: ConnectionState; to: ConnectionState; reason?: Error }) => void;
  /** A provider failed every reconnect attempt and left the instance cache. */
  evicted: (event: { address: string; attempts: number; reason?: Error }) => void;
  /** Aggregate status: 'connected' while at least one provider connection is ready. */
  status: (status: MsRpcClientStatus) => void;
  /** A registry error (logged as well). */
  error: (error: Error) => void;
}

export type MsRpcClientStatus = 'connected' | 'disconnected';

/** What a client may share with others (MsRpcModule injects these). */
export interface MsRpcClientDeps {
  clock?: Clock;
  /** A shared channel cache (with its watchdog attached); by default the client owns one. */
  channels?: ChannelCache;
  metrics?: RpcMetrics;
}

/**
 * The Nest `ClientProxy` of this transport. Thin: calls go router → channel cache →
 * connection; discovery, reconnects and liveness live in the layers below.
 */
export class MsRpcClient extends ClientProxy implements HealthSource {
  /** Discovery name (`service` or `service:version`). */
  readonly serviceName: string;
  private readonly options: ResolvedClientOptions;
  private readonly logger: MsRpcLogger;
  private readonly clock: Clock;
  private readonly metrics: RpcMetrics | undefined;
  private readonly events = new EventEmitter();
  private readonly registry: Registry;
  private readonly directory: Directory;
  private readonly channels: ChannelCache;
  /** Set when this client owns its channel layer (no shared cache was injected). */
  private readonly ownWatchdog: ReconnectWatchdog | undefined;
  private readonly detachChannels: () => void;
  private readonly discovery: ServiceDiscovery;
  private readonly router: ProviderRouter;
  private readonly retryBudget: RetryBudget;
  /** undefined when outlier detection is off. */
  private readonly outliers: OutlierDetector | undefined;
  private readonly idempotentPatterns: ReadonlySet<string>;
  private closed = false;
  private lastStatus: MsRpcClientStatus = 'disconnected';

  constructor(options: Partial<MsRpcClientOptions> = {}, deps: MsRpcClientDeps = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.logger = this.options.logger ?? new Logger('MsRpcClient');
    this.clock = deps.clock ?? systemClock;
    this.metrics = deps.metrics;
    this.initializeSerializer(options as never);
    this.initializeDeserializer(options as never);
    this.registry = this.options.registry ?? new StaticRegistry(this.options.providers ?? []);
    this.serviceName = serviceName(this.options.service, this.options.version);
    this.retryBudget = new RetryBudget(this.options.retryBudget, this.clock);
    this.outliers = this.options.outlierDetection ? new OutlierDetector(this.options.outlierDetection, this.clock) : undefined;
    this.idempotentPatterns = new Set(this.options.idempotentPatterns);
    if (deps.channels) {
      this.channels = deps.channels;
    } else {
      this.channels = new ChannelCache(this.options, this.logger, this.clock);
      this.ownWatchdog = new ReconnectWatchdog(this.channels, this.options.backoff, this.logger, this.clock);
    }
    this.directory = new Directory(
      this.serviceName,
      {
        onAdded: (instance) => {
          this.router.connect(instance);
          // A shared cache may hand over a connection that is already ready: no state change
          // will follow, so the status must be updated here.
          if (this.lastStatus !== 'connected' && this.router.readyProviderCount() > 0) this.setStatus('connected');
        },
        // Removed providers get no new call; evicted ones are unreachable and close at once,
        // the others keep answering what they already have for up to one call timeout.
        onRemoved: (instance, why) => {
          this.outliers?.forget(instance.id);
          this.router.release(instance.id, `provider removed (${why})`, why === 'evicted' ? 0 : this.options.timeout);
        },
      },
      this.logger,
    );
    const snapshots =
      this.options.registry && this.options.snapshotDir !== false
        ? new DirectorySnapshotStore(this.options.snapshotDir, this.logger)
        : undefined;
    this.discovery = new ServiceDiscovery(
      this.registry,
      this.serviceName,
      this.options.group,
      this.directory,
      snapshots,
      this.logger,
      (err) => {
        // An EventEmitter throws on an 'error' nobody listens to: report it only to listeners.
        if (this.events.listenerCount('error') > 0) this.events.emit('error', err);
      },
    );
    this.router = new ProviderRouter(
      this.serviceName,
      this.directory,
      this.channels,
      new BalancerRegistry({ clock: this.clock }).create(this.options.balancer, 'MsRpcClient.balancer'),
      () => void this.discovery.resolve().then(() => this.router.connectAll()),
      this.clock,
      this.outliers,
    );
    this.detachChannels = this.channels.addListener({
      onStateChange: (c, from, to, reason) => this.onStateChange(c, from, to, reason),
      onGoAway: () => this.router.connectAll(),
      onEvicted: (address, attempts, reason) => this.onEvicted(address, attempts, reason),
    });
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
    await this.router.pick(this.options.connectTimeout).promise;
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

  /** Like Nest's (hot: sent even without a subscriber), minus the `connect()` first, as `send()`. */
  override emit<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    const source = connectable(
      defer(() => this.dispatchEvent<TResult>(this.createPacket(pattern, data))),
      { connector: () => new Subject<TResult>(), resetOnDisconnect: false },
    );
    source.connect();
    return source;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.router.close();
    this.detachChannels();
    if (this.ownWatchdog) {
      this.ownWatchdog.close();
      this.channels.close('client closed');
    }
    await this.discovery.close();
    if (!this.options.registry) await this.registry.close();
    this.setStatus('disconnected');
    this.events.removeAllListeners();
  }

  /** Nest calls this on shutdown for clients provided by MsRpcModule. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
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

  readyProviderCount(): number {
    return this.router.readyProviderCount();
  }

  knownProviderCount(): number {
    return this.directory.size;
  }

  /** Providers currently ejected as outliers (skipped while others are available). */
  ejectedProviders(): string[] {
    return this.outliers?.ejected() ?? [];
  }

  /** Calls and retries in the retry budget's current window. */
  retryBudgetWindow(): { calls: number; retries: number } {
    return this.retryBudget.window;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const pattern = this.normalizePattern(packet.pattern);
    let data = packet.data as unknown;
    let metadata = packet.metadata;
    let timeoutMs = this.options.timeout;
    let context: PickContext | undefined;
    let retries = this.idempotentPatterns.has(pattern) ? this.options.retries : 0;
    if (data instanceof MsRpcRecord) {
      const record = data;
      data = record.data;
      timeoutMs = record.options.timeout ?? timeoutMs;
      if (record.options.retries !== undefined) retries = record.options.retries;
      if (record.options.metadata) metadata = { ...metadata, ...record.options.metadata };
      if (record.options.hashKey !== undefined) context = { hashKey: record.options.hashKey, pattern };
    } else if (this.options.balancer.hashKey) {
      const hashKey = this.options.balancer.hashKey(packet.pattern, data);
      if (hashKey !== undefined) context = { hashKey, pattern };
    }
    const metrics = this.metrics;
    const token = metrics?.callStarted(pattern);
    const startedAt = performance.now();
    let provider = NO_PROVIDER_LABEL;
    let connection: Connection | undefined;
    let requestId = 0;
    let done = false;
    let delivered = false;
    let cancelWait: (() => void) | undefined;
    // The exclude set is allocated only once a retry needs it: the common call excludes nobody.
    let route: { pattern: string; kind: 'patterns'; exclude?: Set<string> } = { pattern, kind: 'patterns' };
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      if (token) metrics!.callFailed(token, provider, performance.now() - startedAt, err);
      callback({ err });
    };
    const remaining = () => timeoutMs - (performance.now() - startedAt);
    /** A retryable failure on `failed` (undefined: no provider was reached): try again or give up. */
    const retryOrFail = (err: unknown, failed: string | undefined) => {
      if (done) return;
      if (
        retries > 0 &&
        !delivered &&
        isRetryable(err) &&
        // Covers "timeouts retry only if time remains": the whole call keeps its one deadline.
        remaining() >= 1 &&
        this.retryBudget.tryAcquire()
      ) {
        retries--;
        if (failed) {
          route = { pattern, kind: 'patterns', exclude: new Set(route.exclude).add(failed) };
        }
        if (token) metrics!.callRetried(token);
        connection = undefined;
        requestId = 0;
        attempt();
        return;
      }
      fail(err);
    };
    const dispatch = (target: Connection, remainingMs: number) => {
      if (done) return;
      connection = target;
      const address = target.address;
      provider = address;
      try {
        requestId = target.call(pattern, data, metadata, remainingMs, {
          onValue: (response) => {
            delivered = true;
            callback({ response });
          },
          onEnd: (hasData, response) => {
            done = true;
            this.outliers?.record(address, true);
            if (token) metrics!.callSucceeded(token, provider, performance.now() - startedAt);
            callback(hasData ? { response, isDisposed: true } : { isDisposed: true });
          },
          onError: (err) => {
            if (done) return;
            const error = err ?? new Error('Remote error without details');
            const providerFailure = isProviderFailure(error);
            // A remote handler error still proves the provider answers.
            this.outliers?.record(address, !providerFailure);
            retryOrFail(error, address);
          },
        });
      } catch (err) {
        retryOrFail(err, address);
      }
    };
    const attempt = () => {
      if (this.closed) return fail(new ClientClosedError());
      if (this.router.isUnserved(route)) {
        return fail(new NoProviderError(this.serviceName, `none of ${this.directory.size} known provider(s) serves it`, { pattern }));
      }
      const ready = this.router.pickNow(context, route);
      if (ready) return dispatch(ready, Math.max(1, Math.ceil(remaining())));
      void this.start();
      const waitMs = Math.max(1, Math.ceil(remaining()));
      const pick = this.router.pick(waitMs, context, route);
      cancelWait = pick.cancel;
      pick.promise.then(
        (target) => dispatch(target, Math.max(1, Math.ceil(remaining()))),
        (err) => fail(err instanceof ClientClosedError ? err : new RpcTimeoutError(pattern, timeoutMs, { cause: err })),
      );
    };
    if (this.closed) {
      fail(new ClientClosedError());
      return () => undefined;
    }
    this.retryBudget.recordCall();
    attempt();
    return () => {
      if (done) return;
      done = true;
      if (token) metrics!.callCancelled(token);
      cancelWait?.();
      if (connection && requestId) connection.cancel(requestId);
    };
  }

  /**
   * Events go to a provider that declares the event in its `events` metadata. When providers are
   * known but none declares it, the event still goes to any provider rather than failing: an emit
   * is fire-and-forget, Nest providers log events they have no handler for, and providers of other
   * implementations may handle events they do not declare.
   */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    if (this.closed) throw new ClientClosedError();
    const pattern = this.normalizePattern(packet.pattern);
    let data = packet.data as unknown;
    let metadata = packet.metadata;
    if (data instanceof MsRpcRecord) {
      if (data.options.metadata) metadata = { ...metadata, ...data.options.metadata };
      data = data.data;
    }
    const eventRoute = { pattern, kind: 'events' as const };
    const route = this.router.isUnserved(eventRoute) ? undefined : eventRoute;
    let target = this.router.pickNow(undefined, route);
    if (!target) {
      void this.start();
      target = await this.router.pick(this.options.timeout, undefined, route).promise;
    }
    target.emit(pattern, data, metadata);
    return undefined as T;
  }

  private async start(): Promise<void> {
    await this.discovery.start();
    if (!this.closed) this.router.connectAll();
  }

  private onStateChange(connection: Connection, from: ConnectionState, to: ConnectionState, reason?: Error): void {
    // A shared cache reports every client's connections: only this client's providers count here.
    if (!this.directory.get(connection.address) && to !== 'closed') return;
    this.metrics?.connectionStateChanged(connection, connection.address, from, to, reason);
    this.events.emit('connection-state', { address: connection.address, from, to, reason });
    if (to === 'ready') this.router.onAvailable();
    this.setStatus(this.router.readyProviderCount() > 0 ? 'connected' : 'disconnected');
  }

  private setStatus(status: MsRpcClientStatus): void {
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this._status$.next(status);
    this.events.emit('status', status);
  }

  private onEvicted(address: string, attempts: number, reason?: Error): void {
    if (!this.directory.evict(address)) return;
    this.metrics?.providerEvicted(address);
    this.events.emit('evicted', { address, attempts, reason });
  }
}
