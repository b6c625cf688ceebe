import { Server as NetServer, AddressInfo } from 'node:net';
import { Logger, type LoggerService } from '@nestjs/common';
import { boundedLogger } from '../common/logger.js';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { Clock, systemClock, wallTime } from '../common/clock.js';
import { LOG_INTERVAL_MS, RateLimitedLog } from '../common/rate-limited-log.js';
import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import { EventMessage, RequestMessage } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { serviceName } from '../common/service-name.js';
import { PROTOCOL_VERSION } from '../protocol/frame-header.js';
import { advertisedHost } from './advertised-host.js';
import { RequestAdmission } from './request-admission.js';
import { RpcMetrics } from '../metrics/rpc-metrics.js';
import { ProviderRegistration } from './provider-registration.js';
import { clientCertificateRefusal, createRpcListener } from '../security/tls-listener.js';
import { TokenAuthenticator } from '../security/token-authenticator.js';
import { EndHook, HandlerDispatch, StartHook } from './handler-dispatch.js';
import { IdleSweep } from '../liveness/idle-sweep.js';
import type { HandlerRun } from './handler-run.js';
import { InFlightRequest, ServedPatterns, ServerConnection, ServerConnectionOptions } from './server-connection.js';
import { ServerConnections } from './server-connections.js';
import { RpcTracing } from '../tracing/rpc-tracing.js';
import { MsRpcServerOptions, resolveServerOptions } from './server-options.js';

/** `rpc.service` of the spans of a server without a `service` name (the client's default service). */
const DEFAULT_SPAN_SERVICE = 'ms-rpc';

/** Identifies this transport to Nest (`transportId`), e.g. in processing hooks. */
export const MS_RPC_TRANSPORT = Symbol('nestjs-ms-rpc');

export type MsRpcServerStatus = 'connected' | 'disconnected';

/**
 * The Nest transport strategy: `NestFactory.createMicroservice(AppModule, { strategy: new MsRpcServer(opts) })`.
 * Thin: sockets, framing and liveness live in ServerConnection; this class maps frames to
 * Nest handlers and Nest's write packets back to frames. Its connections call it back through
 * onRequest/onEvent/onClosed, which the published declarations leave out (tagged internal).
 */
export class MsRpcServer extends Server implements CustomTransportStrategy {
  override readonly transportId = MS_RPC_TRANSPORT;
  protected override readonly logger: LoggerService = boundedLogger(new Logger('MsRpcServer'));
  private readonly options: MsRpcServerOptions;
  private readonly codec: MessageCodec;
  private readonly admission: RequestAdmission;
  /** Calls, errors and latency per pattern served here (undefined with `metrics: false`). */
  readonly metrics: RpcMetrics | undefined;
  private readonly connections: ServerConnections;
  private readonly pendingListeners: Array<[string, (...args: unknown[]) => void]> = [];
  private server: NetServer | undefined;
  /** Checks client tokens when `auth` is configured. */
  private readonly authenticator: TokenAuthenticator | undefined;
  private closing: Promise<void> | undefined;
  private registration: ProviderRegistration | undefined;
  /**
   * Handlers by wire pattern. Nest's lookup JSON.parses every pattern (throwing for plain
   * strings), which cost a quarter of the server's CPU; only hits are cached, so peers
   * sending made-up patterns cannot grow it.
   */
  private readonly handlerCache = new Map<string, MessageHandler>();
  /** Wall time, published as `startTime` for the consumers' warm-up. */
  private readonly startedAt: number;
  /** Nest's own start hook (it only calls `done`), to tell when a user installed another. */
  private readonly defaultStartHook: StartHook | undefined;
  /** Requests and events → Nest handlers → frames. */
  private readonly handlers: HandlerDispatch;
  /** Reader-idle detection of every connection, with one timer (undefined with `idleTimeout: 0`). */
  private readonly idleSweep: IdleSweep | undefined;
  private sharedConnectionOptions: ServerConnectionOptions | undefined;
  /** Built on first use, dropped when a handler is added. */
  private served: ServedPatterns | undefined;
  /** Events dropped over `maxConcurrentRequests`: a warning per interval, with the count. */
  private readonly refusedEvents: RateLimitedLog;
  /** Spans per request and event (undefined with `tracing: false`). */
  private readonly tracing: RpcTracing | undefined;
  /** The port bound, once listening. */
  private listeningPort: number | undefined;

  constructor(
    options: Partial<MsRpcServerOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.startedAt = wallTime(clock);
    this.defaultStartHook = this.onProcessingStartHook as StartHook | undefined;
    this.options = resolveServerOptions(options);
    this.tracing = this.options.tracing ? new RpcTracing(this.options.service ?? DEFAULT_SPAN_SERVICE) : undefined;
    const server = this;
    this.handlers = new HandlerDispatch({
      transportId: MS_RPC_TRANSPORT,
      // Read when logging: the logger may be replaced after construction.
      get logger() {
        return server.logger;
      },
      handlerFor: (pattern) => this.getHandlerByPattern(pattern),
      // Nest's default hook only calls done(): skipping its wrapper saves a promise per request.
      startHook: () => {
        const hook = this.onProcessingStartHook as StartHook | undefined;
        return hook === this.defaultStartHook ? undefined : hook;
      },
      endHook: () => this.onProcessingEndHook as EndHook | undefined,
      send: (stream$, respond) => this.send(stream$, respond),
      tracing: this.tracing,
      host: this.options.host,
      // Read for each traced request: the port bound, not a getsockname() per request.
      get port() {
        return server.listeningPort ?? server.port;
      },
    }, clock);
    this.refusedEvents = new RateLimitedLog((line) => this.logger.warn(line), LOG_INTERVAL_MS, clock);
    this.authenticator = this.options.auth ? new TokenAuthenticator(this.options.auth.tokens, 'MsRpcServer.auth.tokens') : undefined;
    this.codec = new MessageCodec(this.options, clock);
    this.idleSweep = this.options.idleTimeout > 0 ? new IdleSweep(this.options.idleTimeout, clock) : undefined;
    this.admission = new RequestAdmission(this.options.maxConcurrentRequests);
    this.metrics = this.options.metrics ? new RpcMetrics() : undefined;
    this.connections = new ServerConnections(this.logger, clock);
    // Nest's base class never does this itself (see the Nest 12 contract notes).
    this.initializeSerializer(options as never);
    this.initializeDeserializer(options as never);
  }

  /** The bound port once listening (the configured one before). */
  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    return address?.port ?? this.options.port;
  }

  get host(): string {
    return this.options.host;
  }

  /**
   * Handlers running now, over all connections: requests (including those whose caller already
   * cancelled or went away, until their handler finishes) and events.
   */
  get inFlightRequests(): number {
    return this.admission.inFlight;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  listen(callback: (err?: unknown, ...rest: unknown[]) => void): void {
    // The first requests are traced too: the (optional) OpenTelemetry API is loaded before accepting.
    if (this.tracing) void this.tracing.ready.then(() => this.startListening(callback));
    else this.startListening(callback);
  }

  private startListening(callback: (err?: unknown, ...rest: unknown[]) => void): void {
    if (this.closing) {
      callback(new Error('MsRpcServer was closed before it started listening'));
      return;
    }
    const server = createRpcListener(this.options, (socket) => this.accept(socket), this.logger, this.clock);
    this.server = server;
    this.connections.limit(server, this.options.maxConnections);
    for (const [event, listener] of this.pendingListeners) server.on(event, listener);
    const onError = (err: Error) => {
      this._status$.next('disconnected');
      callback(err);
    };
    server.once('error', onError);
    server.listen(this.options.port, this.options.host, () => {
      server.off('error', onError);
      this.listeningPort = (server.address() as AddressInfo).port;
      server.on('error', (err) => this.logger.error(`server error: ${err.message}`, err.stack));
      this._status$.next('connected');
      this.logger.log(
        `listening on ${this.options.host}:${this.port}${this.options.tls ? ' (TLS)' : ''}${this.authenticator ? ' (token auth)' : ''}`,
      );
      this.register();
      callback();
    });
  }

  /**
   * Graceful: stops accepting, tells every client to go away, lets in-flight requests finish
   * for up to `shutdownTimeout`, then destroys what is left.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  override addHandler(...args: Parameters<Server['addHandler']>): void {
    this.handlerCache.clear();
    this.served = undefined;
    super.addHandler(...args);
  }

  /** The request and event patterns served here: announced in the Hello and registered as metadata. */
  private servedPatterns(): ServedPatterns {
    if (this.served) return this.served;
    const handlers = [...this.getHandlers().entries()];
    return (this.served = {
      patterns: handlers.filter(([, h]) => !h.isEventHandler).map(([p]) => p),
      events: handlers.filter(([, h]) => h.isEventHandler).map(([p]) => p),
    });
  }

  override getHandlerByPattern(pattern: string): MessageHandler | null {
    const cached = this.handlerCache.get(pattern);
    if (cached) return cached;
    const handler = super.getHandlerByPattern(pattern);
    if (handler) this.handlerCache.set(pattern, handler);
    return handler;
  }

  /** Listens to the underlying `net.Server` events ('connection', 'error', ...). */
  override on(event: string, callback: Function): void {
    const listener = callback as (...args: unknown[]) => void;
    if (this.server) this.server.on(event, listener);
    else this.pendingListeners.push([event, listener]);
  }

  unwrap<T>(): T {
    if (!this.server) throw new Error('MsRpcServer is not listening yet: call listen() first');
    return this.server as T;
  }

  /** @internal RequestDispatcher: a request admitted by a connection. */
  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void {
    this.handlers.onRequest(connection, message, request);
  }

  /** @internal RequestDispatcher: an event admitted by a connection. */
  onEvent(connection: ServerConnection, message: EventMessage, run: HandlerRun): void {
    if (!this.getHandlerByPattern(message.pattern)) {
      run.finished();
      // Nest would log an error for every such event: one peer could flood the log with them.
      connection.reportFault(`event for unknown pattern ${JSON.stringify(message.pattern.slice(0, 80))}`);
      return;
    }
    this.handlers.onEvent(connection, message, run);
  }

  /** Connections refused since listening because `maxConnections` were open. */
  get refusedConnections(): number {
    return this.connections.refusedCount;
  }

  /** @internal RequestDispatcher: a connection closed. */
  onClosed(connection: ServerConnection, _error: Error | undefined): void {
    // The connection logged why it closed.
    this.connections.closed(connection);
  }

  private accept(socket: import('node:net').Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const refusal = clientCertificateRefusal(socket, this.options.tls, `${socket.remoteAddress}:${socket.remotePort}`);
    const shared = this.connectionOptions();
    const connection = new ServerConnection(
      socket,
      this.codec,
      this,
      // One options object for every connection (heap per idle connection); only a refused
      // client gets its own.
      refusal === undefined ? shared : { ...shared, refusal },
      this.logger,
      this.clock,
    );
    this.connections.add(connection);
  }

  /** What every connection shares, built at the first accept (the port is known by then). */
  private connectionOptions(): ServerConnectionOptions {
    return (this.sharedConnectionOptions ??= {
      idleTimeout: this.options.idleTimeout,
      idleSweep: this.idleSweep,
      frameTimeout: this.options.frameTimeout,
      maxWriteBuffer: this.options.maxWriteBuffer,
      maxStreamBuffer: this.options.maxStreamBuffer,
      writeStallTimeout: this.options.writeStallTimeout,
      refusedEvents: this.refusedEvents,
      authenticator: this.authenticator,
      handshakeTimeout: this.options.handshakeTimeout,
      admission: this.admission,
      clock: this.clock,
      metrics: this.metrics,
      metricsLabel: `${this.options.host}:${this.port}`,
      served: () => this.servedPatterns(),
    });
  }

  /** Registration state, once listening with a registry configured. */
  get registered(): boolean {
    return this.registration?.registered ?? false;
  }

  /** Starts background registration; what consumers learn about this provider. */
  private register(): void {
    const o = this.options;
    if (!o.registry || !o.service) return;
    const { patterns, events } = this.servedPatterns();
    this.registration = new ProviderRegistration(
      o.registry,
      {
        service: serviceName(o.service, o.version),
        group: o.group,
        cluster: o.cluster,
        host: o.advertisedHost ?? advertisedHost(o.host),
        port: this.port,
        weight: o.weight,
        metadata: {
          ...o.metadata,
          protocol: `msnb/${PROTOCOL_VERSION}`,
          codec: o.codec,
          patterns: JSON.stringify(patterns),
          events: JSON.stringify(events),
          startTime: String(this.startedAt),
          // For operators: which providers demand TLS or a token (consumers are configured, not told).
          ...(o.tls ? { tls: 'true' } : {}),
          ...(o.auth ? { auth: 'token' } : {}),
          idleTimeout: String(o.idleTimeout),
          ...(o.version ? { version: o.version } : {}),
        },
      },
      this.logger,
      this.clock,
      o.registryTimeout,
    );
    this.registration.start();
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    // Deregister first: consumers stop discovering us before we stop accepting. Bounded by
    // registryTimeout: a registry that is down or never answers must not hold the drain.
    await this.registration?.stop();
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = this.clock.now() + this.options.shutdownTimeout;
    await this.connections.drain('server shutting down', this.options.shutdownTimeout);
    // Handlers no connection reaches any more (events, calls cancelled before their handler
    // finished) get what is left of shutdownTimeout, then are aborted.
    await this.admission.settle(
      Math.max(0, deadline - this.clock.now()),
      new RequestCancelledError('server-shutdown', 'the server closed before the handler finished (shutdownTimeout)'),
      (resolve, ms) => {
        const timer = this.clock.setTimeout(resolve, ms);
        return () => this.clock.clearTimeout(timer);
      },
    );
    this.idleSweep?.close();
    this.handlers.close();
    this.refusedEvents.close();
    this.codec.close();
    await stopped;
    this._status$.next('disconnected');
  }
}
