import { connect as netConnect, Socket } from 'node:net';
import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { ConnectTimeoutError } from '../errors/connect-timeout-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import { IdleMonitor } from '../liveness/idle-monitor.js';
import { CodecId, Frame, MessageType } from '../protocol/frame-header.js';
import { HelloSettings, Message, Metadata } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { ConnectionOptions } from './connection-options.js';
import { ConnectionState, ConnectionStateMachine } from './connection-state.js';
import { CallObserver, PendingCalls } from './pending-calls.js';
import { ActivitySink, SocketTransport, TransportListener } from './socket-transport.js';

/** What a connection reports to its owner (the channel cache). */
export interface ConnectionListener {
  onStateChange(connection: Connection, from: ConnectionState, to: ConnectionState, reason: Error | undefined): void;
  /** The server is draining: no new calls should be routed here. */
  onGoAway?(connection: Connection, reason: string): void;
}

export type SocketFactory = (host: string, port: number) => Socket;

const defaultSocketFactory: SocketFactory = (host, port) => netConnect({ host, port });

/**
 * One client connection slot to one provider address. Connects on demand, multiplexes
 * calls by request id, pings when write- or read-idle, declares the peer dead when read-idle for
 * `heartbeatTimeout`, and fails every pending call at once when its socket goes. A lost
 * socket is never reused: the next `connect()` opens a new one, and events from a replaced
 * socket are ignored. Knows nothing of Nest; reconnect timing belongs to the watchdog.
 */
export class Connection {
  readonly address: string;
  private readonly machine: ConnectionStateMachine;
  /** Dead-peer detection: nothing read for `heartbeatTimeout`. */
  private readonly heartbeat: IdleMonitor;
  /** Ping scheduling: nothing written, or nothing read, for the (possibly adapted) interval. */
  private readonly keepalive: IdleMonitor;
  /** Feeds socket activity to both monitors. */
  private readonly activity: ActivitySink;
  private transport: SocketTransport | undefined;
  private pending: PendingCalls;
  private connecting: Promise<void> | undefined;
  /** Settles `connecting`; kept so close() can reject a connect that is still under way. */
  private settleConnect: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private connectTimer: TimerHandle | undefined;
  private goAwayReason: string | undefined;
  /** What the server announced in its Hello, once received. */
  serverSettings: HelloSettings | undefined;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: ConnectionOptions,
    private readonly codec: MessageCodec,
    private readonly listener: ConnectionListener,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    private readonly socketFactory: SocketFactory = defaultSocketFactory,
  ) {
    this.address = `${host}:${port}`;
    this.machine = new ConnectionStateMachine(`connection ${this.address}`, logger, (from, to, reason) =>
      listener.onStateChange(this, from, to, reason),
    );
    this.pending = this.newPendingCalls();
    this.heartbeat = new IdleMonitor({
      readerIdleMs: options.heartbeatTimeout,
      writerIdleMs: 0,
      clock,
      onWriterIdle: () => undefined,
      onReaderIdle: (idleFor) =>
        this.transport?.destroy(
          new ConnectionClosedError(this.address, `heartbeat timeout: nothing received for ${idleFor} ms`),
        ),
    });
    // Pinging only when write-idle is not enough: a client that keeps sending requests is never
    // write-idle, so while a healthy provider takes longer than heartbeatTimeout to answer,
    // nothing would be read and the connection would be declared dead. Pinging when read-idle
    // too (gRPC keepalive style) gets a pong back in time. The ping counts as a write, so an
    // idle connection still sends one ping per interval, not two.
    const ping = () => void this.transport?.send({ type: MessageType.Ping, requestId: 0 });
    this.keepalive = new IdleMonitor({
      readerIdleMs: options.heartbeatInterval,
      writerIdleMs: options.heartbeatInterval,
      clock,
      onWriterIdle: ping,
      onReaderIdle: ping,
    });
    this.activity = {
      markRead: () => {
        this.heartbeat.markRead();
        this.keepalive.markRead();
      },
      markWrite: () => this.keepalive.markWrite(),
    };
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  /** Ready and not draining: may take new calls. */
  get isAvailable(): boolean {
    return this.machine.state === 'ready' && this.goAwayReason === undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get draining(): boolean {
    return this.goAwayReason !== undefined;
  }

  /**
   * Opens a socket unless one is open or opening. Resolves once the server's Hello arrived (the
   * handshake), not on the bare TCP connect: a peer whose kernel accepts but whose process is
   * hung (SIGSTOP'd, deadlocked, a black hole) must not count as ready, or the watchdog's backoff
   * would reset on every accept and calls would be routed into the void. Rejects with the
   * failure, with ConnectTimeoutError when TCP connect + Hello take over `connectAttemptTimeout`,
   * or with ConnectionClosedError when close() interrupts it.
   */
  connect(): Promise<void> {
    const state = this.machine.state;
    if (state === 'ready') return Promise.resolve();
    if (this.connecting) return this.connecting;
    if (state === 'closed') {
      return Promise.reject(new ConnectionClosedError(this.address, 'connection is closed'));
    }
    this.machine.transition('connecting');
    this.goAwayReason = undefined;
    this.serverSettings = undefined;
    this.connecting = new Promise<void>((resolve, reject) => {
      this.settleConnect = { resolve, reject };
      const socket = this.socketFactory(this.host, this.port);
      const transport: SocketTransport = new SocketTransport(
        socket,
        this.codec,
        this.transportListener((): SocketTransport => transport),
        this.address,
        this.options.maxWriteBuffer,
      );
      this.transport = transport;
      this.connectTimer = this.clock.setTimeout(
        () => transport.destroy(new ConnectTimeoutError(this.address, this.options.connectAttemptTimeout)),
        this.options.connectAttemptTimeout,
      );
    });
    // The owner may not await this promise (background reconnects): never leave it unhandled.
    this.connecting.catch(() => undefined);
    return this.connecting;
  }

  /**
   * Sends a request; answers go to `observer`. Returns the request id for {@link cancel}.
   * Throws ConnectionClosedError when not ready and FrameTooLargeError when the request is
   * too big to send (the caller learns at once instead of waiting for a timeout).
   */
  call(pattern: string, data: unknown, metadata: Metadata | undefined, timeoutMs: number, observer: CallObserver): number {
    const transport = this.requireTransport();
    const requestId = this.pending.add(pattern, timeoutMs, observer);
    try {
      transport.write(this.encodeForServer({ type: MessageType.Request, requestId, pattern, data, metadata }));
    } catch (err) {
      this.pending.take(requestId);
      throw err;
    }
    return requestId;
  }

  /** The caller stopped listening: forget the call and tell the server to stop its handler. */
  cancel(requestId: number): void {
    if (this.pending.take(requestId)) {
      this.transport?.send({ type: MessageType.Cancel, requestId });
    }
  }

  /** Fire-and-forget event. Throws like {@link call}. */
  emit(pattern: string, data: unknown, metadata: Metadata | undefined): void {
    const transport = this.requireTransport();
    transport.write(this.encodeForServer({ type: MessageType.Event, pattern, data, metadata }));
  }

  /** Terminal: fails pending calls, closes the socket, cancels timers. Idempotent. */
  close(reason = 'client closed'): void {
    if (this.machine.state === 'closed') return;
    const error = new ConnectionClosedError(this.address, reason);
    this.clearConnectTimer();
    this.stopMonitors();
    const transport = this.transport;
    this.transport = undefined;
    this.connecting = undefined;
    // The transport's close is ignored from here on (it is no longer current): settle the
    // connect promise now, or whoever awaits connect() would wait forever.
    const settle = this.settleConnect;
    this.settleConnect = undefined;
    this.machine.transition('closed', error);
    settle?.reject(error);
    this.pending.failAll(() => error);
    transport?.destroy(error);
  }

  /**
   * Encodes an outgoing frame and checks it against the limit the server announced in its Hello
   * as well as our own (the codec's). A frame the server would refuse makes it cut the whole
   * connection, failing every call on it: refuse it here instead, for this call only.
   */
  private encodeForServer(message: Message): Buffer {
    const frame = this.codec.encode(message);
    const limit = this.serverSettings?.maxFrameSize;
    if (limit !== undefined && frame.length > limit) {
      throw new FrameTooLargeError(frame.length, limit, 'Outgoing frame (server limit)');
    }
    return frame;
  }

  private requireTransport(): SocketTransport {
    const transport = this.transport;
    if (this.machine.state !== 'ready' || !transport || !transport.isOpen) {
      throw new ConnectionClosedError(this.address, `connection is ${this.machine.state}`);
    }
    return transport;
  }

  private transportListener(self: () => SocketTransport): TransportListener {
    return {
      onMessage: (message, codec) => {
        if (this.transport === self()) this.onMessage(message, codec);
      },
      onBadFrame: (frame, error) => {
        if (this.transport === self()) this.onBadFrame(frame, error);
      },
      onClose: (error) => {
        if (this.transport !== self()) return;
        this.onTransportClosed(error);
      },
    };
  }

  private onMessage(message: Message, _codec: CodecId): void {
    switch (message.type) {
      case MessageType.Response:
        this.pending.get(message.requestId)?.onValue(message.data);
        return;
      case MessageType.End:
        this.pending.take(message.requestId)?.onEnd(message.hasData, message.data);
        return;
      case MessageType.Error:
        this.pending.take(message.requestId)?.onError(message.error);
        return;
      case MessageType.Pong:
        return;
      case MessageType.Ping:
        this.transport?.send({ type: MessageType.Pong, requestId: message.requestId });
        return;
      case MessageType.Hello:
        this.onHello(message.settings);
        return;
      case MessageType.GoAway:
        this.onGoAway(message.reason);
        return;
      default:
        this.transport?.destroy(new FrameDecodeError(`Server sent a ${MessageType[message.type]} frame`));
    }
  }

  private onBadFrame(frame: Frame, error: MsRpcError): void {
    const observer = this.pending.take(frame.requestId);
    if (observer) observer.onError(error);
    else this.logger.warn(`${this.address}: dropped an undecodable ${MessageType[frame.type]} frame: ${error.message}`);
  }

  private onHello(settings: HelloSettings): void {
    this.serverSettings = settings;
    const idle = settings.idleTimeoutMs;
    const interval = this.options.heartbeatInterval;
    let writerIdle = interval;
    // Ping well inside the server's idle window (dubbo#6630: a slower client than the server
    // allows gets closed and flaps); a third leaves room for a lost ping and a busy loop.
    if (idle > 0 && (interval === 0 || interval > idle / 2)) {
      writerIdle = Math.max(1, Math.floor(idle / 3));
      this.logger.warn(
        `${this.address}: server closes idle connections after ${idle} ms; ` +
          `heartbeatInterval ${interval} ms adapted to ${writerIdle} ms for this connection`,
      );
    }
    this.keepalive.setWriterIdleMs(writerIdle);
    this.keepalive.setReaderIdleMs(writerIdle);
    if (this.machine.state === 'connecting') this.onHandshakeDone();
  }

  /** The server's Hello arrived on a fresh socket: the connection is ready for calls. */
  private onHandshakeDone(): void {
    const transport = this.transport!;
    this.clearConnectTimer();
    this.connecting = undefined;
    const settle = this.settleConnect;
    this.settleConnect = undefined;
    transport.activity = this.activity;
    this.heartbeat.start();
    this.keepalive.start();
    this.machine.transition('ready');
    settle?.resolve();
  }

  private onGoAway(reason: string): void {
    if (this.goAwayReason !== undefined) return;
    this.goAwayReason = reason;
    this.logger.log(`${this.address}: server is draining (${reason}); no new calls on this connection`);
    this.listener.onGoAway?.(this, reason);
    if (this.pending.size === 0) this.transport?.end();
  }

  private onTransportClosed(error: Error | undefined): void {
    this.clearConnectTimer();
    this.stopMonitors();
    this.transport = undefined;
    const state = this.machine.state;
    if (state === 'closed') return;
    const reason = error ?? new ConnectionClosedError(this.address, this.goAwayReason ?? 'closed by peer');
    if (state === 'connecting') {
      this.connecting = undefined;
      const settle = this.settleConnect;
      this.settleConnect = undefined;
      this.machine.transition('transient-failure', reason);
      settle?.reject(reason);
      return;
    }
    const failed = this.pending;
    this.pending = this.newPendingCalls();
    this.machine.transition('transient-failure', reason);
    failed.failAll(() =>
      reason instanceof ConnectionClosedError
        ? reason
        : new ConnectionClosedError(this.address, reason.message, { cause: reason }),
    );
  }

  private newPendingCalls(): PendingCalls {
    return new PendingCalls((requestId, pattern, timeoutMs, observer) => {
      observer.onError(new RpcTimeoutError(pattern, timeoutMs, { address: this.address }));
      // Tell the server to stop working on an answer nobody waits for.
      this.transport?.send({ type: MessageType.Cancel, requestId });
    }, this.clock);
  }

  private stopMonitors(): void {
    this.heartbeat.stop();
    this.keepalive.stop();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) {
      this.clock.clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }
}
