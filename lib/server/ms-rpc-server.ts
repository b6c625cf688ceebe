import { createServer, Server as NetServer, AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server, WritePacket } from '@nestjs/microservices';
import { finalize, isObservable, Observable, Subject, takeUntil } from 'rxjs';
import { Clock, systemClock } from '../common/clock.js';
import { MessageType } from '../protocol/frame-header.js';
import { EventMessage, RequestMessage } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { serviceName } from '../common/service-name.js';
import { PROTOCOL_VERSION } from '../protocol/frame-header.js';
import { advertisedHost } from './advertised-host.js';
import { MsRpcContext } from './ms-rpc-context.js';
import { RequestAdmission } from './request-admission.js';
import { RpcMetrics } from '../metrics/rpc-metrics.js';
import { ProviderRegistration } from './provider-registration.js';
import { InFlightRequest, RequestDispatcher, ServerConnection } from './server-connection.js';
import { MsRpcServerOptions, resolveServerOptions } from './server-options.js';

/** Identifies this transport to Nest (`transportId`), e.g. in processing hooks. */
export const MS_RPC_TRANSPORT = Symbol('nestjs-ms-rpc');

export type MsRpcServerStatus = 'connected' | 'disconnected';

type StartHook = (transportId: symbol, context: MsRpcContext, done: () => Promise<unknown>) => unknown;
type EndHook = (transportId: symbol, context: MsRpcContext) => void;

/**
 * The Nest transport strategy: `NestFactory.createMicroservice(AppModule, { strategy: new MsRpcServer(opts) })`.
 * Thin: sockets, framing and liveness live in ServerConnection; this class maps frames to
 * Nest handlers and Nest's write packets back to frames.
 */
export class MsRpcServer extends Server implements CustomTransportStrategy, RequestDispatcher {
  override readonly transportId = MS_RPC_TRANSPORT;
  protected override readonly logger = new Logger('MsRpcServer');
  private readonly options: MsRpcServerOptions;
  private readonly codec: MessageCodec;
  private readonly admission: RequestAdmission;
  /** Calls, errors and latency per pattern served here (undefined with `metrics: false`). */
  readonly metrics: RpcMetrics | undefined;
  private readonly connections = new Set<ServerConnection>();
  private readonly pendingListeners: Array<[string, (...args: unknown[]) => void]> = [];
  private server: NetServer | undefined;
  private closing: Promise<void> | undefined;
  private registration: ProviderRegistration | undefined;
  /**
   * Handlers by wire pattern. Nest's lookup JSON.parses every pattern (throwing for plain
   * strings), which cost a quarter of the server's CPU; only hits are cached, so peers
   * sending made-up patterns cannot grow it.
   */
  private readonly handlerCache = new Map<string, MessageHandler>();
  private readonly startedAt = Date.now();
  /** Set while close() waits for the last connection to end. */
  private drained: (() => void) | undefined;
  /** Nest's own start hook (it only calls `done`), to tell when a user installed another. */
  private readonly defaultStartHook: StartHook | undefined;

  constructor(
    options: Partial<MsRpcServerOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    super();
    this.defaultStartHook = this.onProcessingStartHook as StartHook | undefined;
    this.options = resolveServerOptions(options);
    this.codec = new MessageCodec(this.options);
    this.admission = new RequestAdmission(this.options.maxConcurrentRequests);
    this.metrics = this.options.metrics ? new RpcMetrics() : undefined;
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

  /** Requests being worked on now, over all connections. */
  get inFlightRequests(): number {
    return this.admission.inFlight;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  listen(callback: (err?: unknown, ...rest: unknown[]) => void): void {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    for (const [event, listener] of this.pendingListeners) server.on(event, listener);
    const onError = (err: Error) => {
      this._status$.next('disconnected');
      callback(err);
    };
    server.once('error', onError);
    server.listen(this.options.port, this.options.host, () => {
      server.off('error', onError);
      server.on('error', (err) => this.logger.error(`server error: ${err.message}`, err.stack));
      this._status$.next('connected');
      this.logger.log(`listening on ${this.options.host}:${this.port}`);
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
    super.addHandler(...args);
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

  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void {
    const pattern = message.pattern;
    const handler = this.getHandlerByPattern(pattern);
    if (!handler || handler.isEventHandler) {
      connection.respond(request, {
        type: MessageType.Error,
        requestId: request.requestId,
        error: {
          status: 'error',
          message: `There is no matching message handler defined in the remote service. Pattern: ${pattern}`,
        },
      });
      return;
    }
    const context = new MsRpcContext([connection.remoteAddress, pattern, request.requestId, message.metadata ?? {}]);
    const startHook = this.onProcessingStartHook as StartHook | undefined;
    if (startHook === undefined || startHook === this.defaultStartHook) {
      // Nest's default hook only calls done(): skip its wrapper (one promise less per request).
      void this.dispatch(handler, message.data, context, connection, request, false);
      return;
    }
    // A custom hook (tracing, AsyncLocalStorage...) wraps the handler exactly as Nest's
    // handleRequest does: `done` resolves once the handler produced its result and rejects
    // when it failed, which the hook may propagate; a failing hook still answers.
    const handled: unknown = startHook(this.transportId, context, () =>
      this.dispatch(handler, message.data, context, connection, request, true),
    );
    if (handled instanceof Promise) {
      handled.catch((err: unknown) => {
        connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      });
    }
  }

  onEvent(connection: ServerConnection, message: EventMessage): void {
    const context = new MsRpcContext([connection.remoteAddress, message.pattern, 0, message.metadata ?? {}]);
    const packet = { pattern: message.pattern, data: message.data, metadata: message.metadata };
    this.handleEvent(message.pattern, packet, context).catch((err: Error) =>
      this.logger.error(`event handler for "${message.pattern}" failed: ${err?.message ?? err}`, err?.stack),
    );
  }

  /**
   * Nest's `handleRequest` minus the per-request rxjs pipeline. Nest's handler proxy resolves to
   * the handler's plain value (sync or async handlers without interceptors) or to an Observable
   * (Observable handlers, interceptors, and errors mapped by exception filters). A plain value is
   * answered at once with one End frame; only an Observable goes through Nest's `send`. The
   * processing end hook runs exactly once, when the answer is settled, as in Nest.
   *
   * With `rethrow` (inside a custom start hook) a failing handler rejects, like Nest's `done`;
   * otherwise the failure is answered here.
   */
  private async dispatch(
    handler: MessageHandler,
    data: unknown,
    context: MsRpcContext,
    connection: ServerConnection,
    request: InFlightRequest,
    rethrow: boolean,
  ): Promise<void> {
    let result: unknown;
    try {
      result = await handler(data, context);
    } catch (err) {
      this.endProcessing(context);
      if (rethrow) throw err;
      connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      return;
    }
    if (isObservable(result)) {
      this.stream(result, context, connection, request);
      return;
    }
    this.endProcessing(context);
    connection.respond(
      request,
      result === undefined
        ? { type: MessageType.End, requestId: request.requestId, hasData: false }
        : { type: MessageType.End, requestId: request.requestId, hasData: true, data: result },
    );
  }

  /** A real stream: Nest's `send` (ordering, error mapping), stopped by a cancel or connection loss. */
  private stream(
    response$: Observable<unknown>,
    context: MsRpcContext,
    connection: ServerConnection,
    request: InFlightRequest,
  ): void {
    if (!connection.isActive(request)) {
      // Cancelled (or the connection closed) before the handler produced its stream: never subscribe
      // it, or an endless stream would run unobserved forever. Nest's takeUntil would complete here.
      this.endProcessing(context);
      return;
    }
    const cancelled = new Subject<void>();
    request.onCancel = () => cancelled.next();
    this.send(
      response$.pipe(
        takeUntil(cancelled),
        finalize(() => this.endProcessing(context)),
      ),
      (packet: WritePacket) => this.writePacket(connection, request, packet),
    );
  }

  /** Runs the processing end hook (if any) for a request whose answer is settled. */
  private endProcessing(context: MsRpcContext): void {
    const hook = this.onProcessingEndHook as EndHook | undefined;
    if (hook === undefined) return;
    try {
      hook(this.transportId, context);
    } catch (err) {
      this.logger.error(`processing end hook failed: ${(err as Error)?.message ?? err}`, (err as Error)?.stack);
    }
  }

  onClosed(connection: ServerConnection, error: Error | undefined): void {
    this.connections.delete(connection);
    if (this.connections.size === 0) this.drained?.();
    if (error) this.logger.debug?.(`${connection.remoteAddress} closed: ${error.message}`);
  }

  private accept(socket: import('node:net').Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const connection = new ServerConnection(
      socket,
      this.codec,
      this,
      {
        idleTimeout: this.options.idleTimeout,
        maxWriteBuffer: this.options.maxWriteBuffer,
        admission: this.admission,
        metrics: this.metrics,
        metricsLabel: `${this.options.host}:${this.port}`,
      },
      this.logger,
      this.clock,
    );
    if (connection.isOpen) this.connections.add(connection);
  }

  /** Nest's write packets → frames. `{response, isDisposed}` becomes one End frame. */
  private writePacket(connection: ServerConnection, request: InFlightRequest, packet: WritePacket): void {
    const requestId = request.requestId;
    if (packet.err !== undefined && packet.err !== null) {
      connection.respond(request, { type: MessageType.Error, requestId, error: packet.err });
    } else if (packet.isDisposed) {
      connection.respond(
        request,
        packet.response === undefined
          ? { type: MessageType.End, requestId, hasData: false }
          : { type: MessageType.End, requestId, hasData: true, data: packet.response },
      );
    } else {
      connection.respond(request, { type: MessageType.Response, requestId, data: packet.response });
    }
  }

  /** Registration state, once listening with a registry configured. */
  get registered(): boolean {
    return this.registration?.registered ?? false;
  }

  /** Starts background registration; what consumers learn about this provider. */
  private register(): void {
    const o = this.options;
    if (!o.registry || !o.service) return;
    const handlers = [...this.getHandlers().entries()];
    const patterns = handlers.filter(([, h]) => !h.isEventHandler).map(([p]) => p);
    const events = handlers.filter(([, h]) => h.isEventHandler).map(([p]) => p);
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
          idleTimeout: String(o.idleTimeout),
          ...(o.version ? { version: o.version } : {}),
        },
      },
      this.logger,
      this.clock,
    );
    this.registration.start();
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    // Deregister first: consumers stop discovering us before we stop accepting.
    await this.registration?.stop();
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of this.connections) connection.goAway('server shutting down');
    if (this.connections.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, this.options.shutdownTimeout);
        this.drained = () => {
          this.clock.clearTimeout(timer);
          resolve();
        };
      });
      this.drained = undefined;
    }
    for (const connection of [...this.connections]) connection.destroy();
    await stopped;
    this._status$.next('disconnected');
  }
}
