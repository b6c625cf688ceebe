import { Logger } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { connectable, defer, Observable, Subject, throwError } from 'rxjs';
import { BalancerRegistry } from '../balancer/balancer-registry.js';
import { ChannelCache, type ChannelListener } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import { Clock, systemClock } from '../common/clock.js';
import { boundedLogger, MsRpcLogger } from '../common/logger.js';
import { ProcessHold } from '../common/process-hold.js';
import { serviceName } from '../common/service-name.js';
import { Directory } from '../directory/directory.js';
import { DirectorySnapshotStore } from '../directory/directory-snapshot.js';
import type { HealthSource } from '../health/health-source.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Registry } from '../registry/registry.js';
import { StaticRegistry } from '../registry/static-registry.js';
import { OutlierDetector } from '../routing/outlier-detector.js';
import { RetryBudget } from '../routing/retry-budget.js';
import { AnswerMapper, MsRpcCallInit, PacketSink, promiseCall, SubscriberSink } from './call-sinks.js';
import { CallDefaults, clientTimeoutSource, invalidCall, resolveCallSettings } from './call-settings.js';
import { CallEnvironment, CallSettings, ClientCall } from './client-call.js';
import { MsRpcClientOptions, ResolvedClientOptions, resolveClientOptions } from './client-options.js';
import { ClientEvents, type MsRpcClientEvents } from './client-events.js';
import { sendEvent } from './event-dispatch.js';
import { ProviderRouter } from './provider-router.js';
import { ServiceDiscovery } from './service-discovery.js';
import { callScopes } from '../propagation/call-scope.js';
import { RpcTracing } from '../tracing/rpc-tracing.js';

export type { MsRpcClientEvents, MsRpcClientStatus } from './client-events.js';

/** What a client may share with others: a clock (tests), and metrics collected in one RpcMetrics. */
export interface MsRpcClientDeps {
  clock?: Clock;
  /** @internal MsRpcModule's shared channel cache (with its watchdog attached); by default the client owns one. */
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
  private readonly registry: Registry;
  private readonly directory: Directory;
  private readonly channels: ChannelCache;
  private readonly channelListener: ChannelListener;
  /** Detaches from the channel cache (a shared one outlives a closed client). */
  private detachChannels: () => void;
  private readonly discovery: ServiceDiscovery;
  private readonly router: ProviderRouter;
  private readonly retryBudget: RetryBudget;
  /** undefined when outlier detection is off. */
  private readonly outliers: OutlierDetector | undefined;
  private readonly callDefaults: CallDefaults;
  private readonly callEnv: CallEnvironment;
  private readonly answerMapper: AnswerMapper = {
    response: (value) => this.serializeResponse(value),
    error: (err) => this.serializeError(err),
  };
  /** No subclass changed how answers reach a `send()` subscriber (see send()). */
  private readonly directSend: boolean;
  /** Between close() and the next use, which opens it again (as Nest's clients do). */
  private closed = false;
  private readonly events: ClientEvents;
  /** Keeps the process alive while a call, connect() or emit() is pending. */
  private readonly hold = new ProcessHold();
  /** Spans per call and event (undefined with `tracing: false`). */
  private readonly tracing: RpcTracing | undefined;

  constructor(options: Partial<MsRpcClientOptions> = {}, deps: MsRpcClientDeps = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.logger = boundedLogger(this.options.logger ?? new Logger('MsRpcClient'));
    this.clock = deps.clock ?? systemClock;
    this.metrics = deps.metrics;
    this.initializeSerializer(options as never);
    this.initializeDeserializer(options as never);
    this.registry = this.options.registry ?? new StaticRegistry(this.options.providers ?? []);
    this.serviceName = serviceName(this.options.service, this.options.version);
    this.retryBudget = new RetryBudget(this.options.retryBudget, this.clock);
    this.outliers = this.options.outlierDetection ? new OutlierDetector(this.options.outlierDetection, this.clock) : undefined;
    this.callDefaults = {
      timeout: this.options.timeout,
      waitForReady: this.options.waitForReady,
      retries: this.options.retries,
      idempotentPatterns: new Set(this.options.idempotentPatterns),
      hashKey: this.options.balancer.hashKey,
      contextEveryCall: typeof this.options.balancer.strategy !== 'string',
      inheritDeadline: this.options.inheritDeadline,
    };
    this.tracing = this.options.tracing ? new RpcTracing(this.serviceName) : undefined;
    if (this.options.inheritDeadline) callScopes.want();
    if (deps.channels) {
      this.channels = deps.channels;
    } else {
      this.channels = new ChannelCache(this.options, this.logger, this.clock);
      // Attaches itself to the cache; with no lost connection it holds no timer.
      new ReconnectWatchdog(this.channels, this.options.backoff, this.logger, this.clock);
    }
    this.directory = new Directory(
      this.serviceName,
      {
        onAdded: (instance) => {
          this.router.onAdded(instance);
          this.events.providerAdded();
        },
        // Removed providers get no new call, but keep answering what they already have for up
        // to one call timeout.
        onRemoved: (instance, why) => {
          this.outliers?.forget(instance.id);
          this.router.onRemoved(instance, why, this.options.timeout);
        },
        onUpdated: (instance) => this.router.onUpdated(instance),
        onChanged: () => this.router.onChanged(),
      },
      this.logger,
    );
    const snapshots =
      this.options.registry && this.options.snapshotDir !== false
        ? new DirectorySnapshotStore(this.options.snapshotDir, this.registry.identity, this.logger)
        : undefined;
    this.discovery = new ServiceDiscovery(
      this.registry,
      this.serviceName,
      this.options.group,
      this.directory,
      snapshots,
      this.logger,
      (err) => this.events.registryError(err),
      this.options.registryTimeout,
      this.clock,
    );
    this.router = new ProviderRouter(
      this.serviceName,
      this.directory,
      this.channels,
      new BalancerRegistry({ clock: this.clock }).create(this.options.balancer, 'MsRpcClient.balancer'),
      this.discovery,
      this.clock,
      this.outliers,
    );
    this.events = new ClientEvents(
      this.directory,
      this.router,
      this.metrics,
      (status) => this._status$.next(status),
      this.logger,
    );
    this.channelListener = {
      onStateChange: (c, from, to, reason) => this.events.onStateChange(c, from, to, reason),
      onGoAway: (c) => this.events.onGoAway(c),
      onEvicted: (address, attempts, reason) => this.events.onEvicted(address, attempts, reason),
      onReadmitted: (address) => this.events.onReadmitted(address),
    };
    this.detachChannels = this.channels.addListener(this.channelListener);
    this.callEnv = {
      serviceName: this.serviceName,
      router: this.router,
      retryBudget: this.retryBudget,
      outliers: this.outliers,
      metrics: this.metrics,
      isClosed: () => this.closed,
      knownProviders: () => this.directory.size,
      start: () => void this.start(),
      hold: this.hold,
      timeoutSource: clientTimeoutSource(this.options.timeout),
      deadlineMargin: this.options.deadlineMargin,
      tracing: this.tracing,
      clock: this.clock,
    };
    this.directSend =
      this.publish === MsRpcClient.prototype.publish &&
      this.createObserver === (ClientProxy.prototype as unknown as { createObserver: unknown }).createObserver;
    this._status$.next('disconnected');
  }

  /**
   * Starts discovery, opens connections to every provider known by then, and resolves once one is
   * ready. Rejects with a NoProviderError naming each provider's failure as soon as every known
   * provider's latest connect attempt failed (with `waitForReady`: only after `connectTimeout`),
   * and with a ClientClosedError when close() is called meanwhile. After close() it opens the
   * client again. Calls do not need it: they wait for a provider on their own, bounded by their
   * timeout, and connect only the providers serving their pattern (docs/lazy-connections.md).
   * With `tracing`, it also waits for the OpenTelemetry API to be loaded (or found absent): calls
   * made after it are traced.
   */
  async connect(): Promise<void> {
    this.reopen();
    if (this.tracing) await this.tracing.ready;
    if (this.router.hasAvailable) {
      this.router.connectAll();
      return;
    }
    await this.hold.around(async () => {
      await this.start();
      this.router.connectAll();
      await this.router.pick(this.options.connectTimeout, undefined, undefined, this.options.waitForReady).promise;
    });
  }

  /**
   * Like Nest's, minus the `connect()` before each call: a call waits for a provider itself,
   * within its own timeout, instead of inheriting connect()'s timeout. Answers go straight to the
   * subscriber (as Nest's `createObserver` would pass them on) unless a subclass overrides
   * `publish` or `createObserver`, which are then used as Nest uses them.
   */
  override send<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    return new Observable<TResult>((subscriber) => {
      this.reopen();
      const packet = this.createPacket(pattern, data);
      if (!this.directSend) return this.publish(packet, this.createObserver(subscriber));
      const call = new ClientCall(this.callEnv, this.callSettings(packet), new SubscriberSink(subscriber, this.answerMapper));
      call.start();
      return () => call.cancel();
    });
  }

  /** Like Nest's (hot: sent even without a subscriber), minus the `connect()` first, as `send()`. */
  override emit<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new InvalidMessageException());
    }
    this.reopen();
    const source = connectable(
      defer(() => this.dispatchEvent<TResult>(this.createPacket(pattern, data))),
      { connector: () => new Subject<TResult>(), resetOnDisconnect: false },
    );
    source.connect();
    return source;
  }

  /**
   * Fails what is waiting for a provider with ClientClosedError, closes this client's provider
   * connections (calls in flight on them fail with ConnectionClosedError; connections of a
   * shared channel cache stay open while other clients hold them) and unsubscribes from
   * discovery. Like Nest's clients, the client can be used again: the next `connect()`,
   * `send()`, `emit()` or `call()` opens fresh connections.
   */
  async close(): Promise<void> {
    if (this.closed) return this.discovery.stop();
    this.closed = true;
    this.router.close();
    this.directory.clear();
    this.events.close();
    this.detachChannels();
    this.hold.dispose();
    await this.discovery.stop();
  }

  /** Opens the client again after close(): routing resumes, discovery restarts on first use. */
  private reopen(): void {
    if (!this.closed) return;
    this.closed = false;
    this.detachChannels = this.channels.addListener(this.channelListener);
    this.router.reopen();
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

  /**
   * Promise fast path: like `lastValueFrom(client.send(pattern, data))` without the per-call
   * Observable and subscriber. Resolves with the last value of the answer (`undefined` when the
   * handler produced none, where `lastValueFrom` would reject with an EmptyError). `options`
   * take the place of an MsRpcRecord's (and win over one); `options.signal` cancels the call.
   */
  call<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput, options?: MsRpcCallInit): Promise<TResult> {
    const invalid = invalidCall(pattern, data, options);
    if (invalid) return Promise.reject(invalid);
    this.reopen();
    const settings = this.callSettings(this.createPacket(pattern, data), options);
    return promiseCall(this.callEnv, settings, this.answerMapper, options?.signal) as Promise<TResult>;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const call = new ClientCall(this.callEnv, this.callSettings(packet), new PacketSink(callback));
    call.start();
    return () => call.cancel();
  }

  private callSettings(packet: ReadPacket, overrides?: MsRpcCallInit): CallSettings {
    return resolveCallSettings(
      this.callDefaults,
      this.normalizePattern(packet.pattern),
      packet.pattern,
      packet.data,
      packet.metadata,
      overrides,
    );
  }

  /** Events go to a provider that declares them (see sendEvent). */
  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = this.normalizePattern(packet.pattern);
    await this.hold.around(() =>
      sendEvent(this.callEnv, pattern, packet.data, packet.metadata, this.options.timeout, this.options.waitForReady),
    );
    return undefined as T;
  }

  /** Starts discovery; connections follow the calls (see ProviderRouter) or connect(). */
  private async start(): Promise<void> {
    await this.discovery.start();
  }
}
