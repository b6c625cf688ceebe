import type { Socket } from 'node:net';
import { Clock, systemClock } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { IdleMonitor } from '../liveness/idle-monitor.js';
import { CodecId, Frame, MessageType } from '../protocol/frame-header.js';
import { EventMessage, Message, RequestMessage } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { SocketTransport } from '../connection/socket-transport.js';
import type { RequestAdmission } from './request-admission.js';
import type { RpcCallToken } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';

/** Handle on one in-flight request, given to the dispatcher. */
export interface InFlightRequest {
  readonly requestId: number;
  readonly codec: CodecId;
  /** Set when the client cancels or the connection closes: the handler's stream must stop. */
  onCancel?: () => void;
  /** Metrics bookkeeping, when the server collects metrics. */
  metricsToken?: RpcCallToken;
  startedAt?: number;
}

/** How a request ended, for metrics. */
type Outcome = { error: unknown } | 'ok' | 'cancelled';

/** Where a server connection sends what it cannot handle itself (the Nest server). */
export interface RequestDispatcher {
  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void;
  onEvent(connection: ServerConnection, message: EventMessage): void;
  onClosed(connection: ServerConnection, error: Error | undefined): void;
}

export interface ServerConnectionOptions {
  /** Shared by every connection of a server: the concurrent request limit. */
  admission: RequestAdmission;
  /** The server's metrics (per pattern; `metricsLabel` as the provider label). */
  metrics?: RpcMetrics;
  metricsLabel?: string;
  idleTimeout: number;
  maxWriteBuffer: number;
}

/**
 * The server's side of one client socket: announces its settings (Hello), answers pings,
 * closes when the reader stays idle, tracks in-flight requests for cancel and drain.
 */
export class ServerConnection {
  readonly remoteAddress: string;
  private readonly transport: SocketTransport;
  private readonly idle: IdleMonitor;
  private readonly inFlight = new Map<number, InFlightRequest>();
  private goingAway = false;

  constructor(
    socket: Socket,
    private readonly codec: MessageCodec,
    private readonly dispatcher: RequestDispatcher,
    private readonly options: ServerConnectionOptions,
    private readonly logger: MsRpcLogger,
    clock: Clock = systemClock,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.transport = new SocketTransport(
      socket,
      codec,
      {
        onMessage: (message, codecId) => this.onMessage(message, codecId),
        onBadFrame: (frame, error) => this.onBadFrame(frame, error),
        onClose: (error) => this.onClose(error),
      },
      this.remoteAddress,
      options.maxWriteBuffer,
    );
    this.idle = new IdleMonitor({
      readerIdleMs: options.idleTimeout,
      writerIdleMs: 0,
      clock,
      onReaderIdle: (idleFor) =>
        this.transport.destroy(
          new ConnectionClosedError(this.remoteAddress, `reader idle for ${idleFor} ms (idleTimeout ${options.idleTimeout} ms)`),
        ),
      onWriterIdle: () => undefined,
    });
    this.transport.activity = this.idle;
    this.idle.start();
    this.transport.send({
      type: MessageType.Hello,
      settings: { idleTimeoutMs: options.idleTimeout, maxFrameSize: codec.maxFrameSize },
    });
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  /** Still awaiting its answer: not finished, cancelled, or dropped with the connection. */
  isActive(request: InFlightRequest): boolean {
    return this.inFlight.get(request.requestId) === request;
  }

  /** Sends one frame of a response stream. Returns false once the request is finished or gone. */
  respond(request: InFlightRequest, message: Message): boolean {
    if (this.inFlight.get(request.requestId) !== request) return false;
    const terminal = message.type === MessageType.End || message.type === MessageType.Error;
    if (terminal) this.forget(request.requestId, message.type === MessageType.End ? 'ok' : { error: (message as { error?: unknown }).error });
    try {
      this.transport.send(message, request.codec);
    } catch (err) {
      // The answer cannot be sent (too large, unserializable): the caller gets a typed error
      // instead of waiting for its timeout, and the stream is over.
      this.forget(request.requestId, { error: err });
      request.onCancel?.();
      this.transport.send(
        { type: MessageType.Error, requestId: request.requestId, error: errorPayload(err) },
        request.codec,
      );
      return false;
    }
    if (this.goingAway && this.inFlight.size === 0) this.transport.end();
    return !terminal;
  }

  /** Announces draining; the socket ends once in-flight requests are answered. */
  goAway(reason: string): void {
    if (this.goingAway || !this.transport.isOpen) return;
    this.goingAway = true;
    this.transport.send({ type: MessageType.GoAway, reason });
    if (this.inFlight.size === 0) this.transport.end();
  }

  destroy(error?: Error): void {
    this.transport.destroy(error);
  }

  private onMessage(message: Message, codec: CodecId): void {
    switch (message.type) {
      case MessageType.Request: {
        if (this.inFlight.has(message.requestId)) {
          this.transport.send(
            {
              type: MessageType.Error,
              requestId: message.requestId,
              error: { status: 'error', message: `Duplicate request id ${message.requestId}` },
            },
            codec,
          );
          return;
        }
        if (!this.options.admission.tryAcquire()) {
          this.transport.send(
            {
              type: MessageType.Error,
              requestId: message.requestId,
              error: {
                status: 'error',
                code: 'ERR_SERVER_BUSY',
                name: 'ServerBusyError',
                message: `server busy: ${this.options.admission.limit} requests in flight`,
              },
            },
            codec,
          );
          return;
        }
        const request: InFlightRequest = { requestId: message.requestId, codec };
        const metrics = this.options.metrics;
        if (metrics) {
          request.metricsToken = metrics.callStarted(message.pattern);
          request.startedAt = performance.now();
        }
        this.inFlight.set(message.requestId, request);
        this.dispatcher.onRequest(this, message, request);
        return;
      }
      case MessageType.Event:
        this.dispatcher.onEvent(this, message);
        return;
      case MessageType.Ping:
        this.transport.send({ type: MessageType.Pong, requestId: message.requestId }, codec);
        return;
      case MessageType.Pong:
      case MessageType.Hello:
        return;
      case MessageType.Cancel: {
        const request = this.inFlight.get(message.requestId);
        if (request) {
          this.forget(message.requestId, 'cancelled');
          request.onCancel?.();
        }
        if (this.goingAway && this.inFlight.size === 0) this.transport.end();
        return;
      }
      default:
        this.transport.destroy(
          new ConnectionClosedError(this.remoteAddress, `protocol violation: client sent a ${MessageType[message.type]} frame`),
        );
    }
  }

  /** Ends tracking of a request: frees its admission slot and records its outcome, exactly once. */
  private forget(requestId: number, outcome: Outcome): void {
    const request = this.inFlight.get(requestId);
    if (!request) return;
    this.inFlight.delete(requestId);
    this.options.admission.release();
    this.record(request, outcome);
  }

  private record(request: InFlightRequest, outcome: Outcome): void {
    const metrics = this.options.metrics;
    const token = request.metricsToken;
    if (!metrics || !token) return;
    const label = this.options.metricsLabel ?? 'self';
    const elapsed = performance.now() - (request.startedAt ?? 0);
    if (outcome === 'ok') metrics.callSucceeded(token, label, elapsed);
    else if (outcome === 'cancelled') metrics.callCancelled(token);
    else metrics.callFailed(token, label, elapsed, outcome.error);
  }

  private onBadFrame(frame: Frame, error: MsRpcError): void {
    this.logger.warn(`${this.remoteAddress}: undecodable ${MessageType[frame.type]} frame: ${error.message}`);
    if (frame.type === MessageType.Request && !this.inFlight.has(frame.requestId)) {
      this.transport.send(
        { type: MessageType.Error, requestId: frame.requestId, error: errorPayload(error) },
        frame.codec,
      );
    }
  }

  private onClose(error: Error | undefined): void {
    this.idle.stop();
    const cancelled = [...this.inFlight.values()];
    this.inFlight.clear();
    this.options.admission.release(cancelled.length);
    for (const request of cancelled) this.record(request, 'cancelled');
    for (const request of cancelled) request.onCancel?.();
    this.dispatcher.onClosed(this, error);
  }
}

function errorPayload(err: unknown): Record<string, unknown> {
  const e = err as { message?: unknown; code?: unknown; name?: unknown };
  return {
    status: 'error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.name === 'string' ? { name: e.name } : {}),
  };
}
