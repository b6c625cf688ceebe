import { Clock, systemClock } from '../common/clock.js';
import { MsRpcLogger, quotePeer } from '../common/logger.js';
import { BackpressureError } from '../errors/backpressure-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import { CodecId, Frame, MessageType } from '../protocol/frame-header.js';
import { HelloSettings, Message, Metadata } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { SocketFactory } from './connect-attempt.js';
import { refusalFromServer, SecurityRefusal } from './connect-refusal.js';
import { ConnectionHandshake } from './connection-handshake.js';
import { ConnectionLiveness } from './connection-liveness.js';
import { ConnectionOptions } from './connection-options.js';
import { ConnectionState, ConnectionStateMachine } from './connection-state.js';
import { CallObserver, PendingCalls } from './pending-calls.js';
import { remoteError } from './remote-error.js';
import { SocketTransport, TransportListener } from './socket-transport.js';

/** What a connection reports to its owner (the channel cache). */
export interface ConnectionListener {
  onStateChange(connection: Connection, from: ConnectionState, to: ConnectionState, reason: Error | undefined): void;
  /** The server is draining: no new calls should be routed here. */
  onGoAway?(connection: Connection, reason: string): void;
}

export type { SocketFactory };

/**
 * One client connection slot to one provider address. Connects on demand, multiplexes calls by
 * request id, keeps heartbeats (ConnectionLiveness), and fails every pending call at once when its
 * socket goes. A lost socket is never reused: the next `connect()` opens a new one, and events
 * from a replaced socket are ignored. Knows nothing of Nest; reconnect timing is the watchdog's.
 */
export class Connection {
  readonly address: string;
  private readonly machine: ConnectionStateMachine;
  private readonly heartbeat: ConnectionLiveness;
  private transport: SocketTransport | undefined;
  private pending: PendingCalls;
  private readonly handshake: ConnectionHandshake;
  private goAwayReason: string | undefined;
  /** Why the latest connect attempt failed; cleared when one succeeds. */
  private attemptFailure: Error | undefined;
  /** What the server announced in its Hello, once received. */
  serverSettings: HelloSettings | undefined;
  /** The patterns the server's Hello said it serves (undefined: it did not say). */
  private served: { patterns: ReadonlySet<string>; events: ReadonlySet<string> } | undefined;
  /** The server's Hello announced `deadlines`: requests carry their budget (older servers get none). */
  private deadlines = false;

  constructor(
    readonly host: string,
    readonly port: number,
    options: ConnectionOptions,
    private readonly codec: MessageCodec,
    private readonly listener: ConnectionListener,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    /** How sockets are opened; by default plain TCP, or TLS when `options.tls` is set. */
    socketFactory?: SocketFactory,
  ) {
    this.address = `${host}:${port}`;
    this.machine = new ConnectionStateMachine(`connection ${this.address}`, logger, (from, to, reason) =>
      listener.onStateChange(this, from, to, reason),
    );
    this.pending = this.newPendingCalls();
    this.heartbeat = new ConnectionLiveness(options, clock, {
      ping: () => void this.transport?.send({ type: MessageType.Ping, requestId: 0 }),
      dead: (idleFor) =>
        this.transport?.destroy(
          new ConnectionClosedError(this.address, `heartbeat timeout: nothing received for ${idleFor} ms`),
        ),
      inFlight: () => this.pending.size,
    });
    this.handshake = new ConnectionHandshake(host, port, options, codec, this.heartbeat, logger, clock, socketFactory);
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
   * Why the provider refused the last connect attempt, when it was for security: an AuthError
   * (token refused) or a TlsHandshakeError. Retrying cannot fix either, so callers waiting for
   * this provider fail at once with it (see ProviderRouter); the watchdog still reconnects with
   * its normal backoff, in case the server's configuration changes. Cleared by a successful connect.
   */
  get rejection(): SecurityRefusal | undefined {
    return this.handshake.refusal;
  }

  /**
   * Why this slot's latest finished connect attempt failed; undefined once one succeeded (a
   * connection that was ready and is lost has none: its next attempt is worth waiting for). Kept
   * while the next attempt runs, to say why a caller waited in vain.
   */
  get lastAttemptFailure(): Error | undefined {
    return this.attemptFailure;
  }

  /**
   * Whether the server serves `pattern` as a request (`patterns`) or an event (`events`), from its
   * Hello; undefined until a Hello said so (not connected yet, or an older server).
   */
  serves(pattern: string, kind: 'patterns' | 'events'): boolean | undefined {
    return this.served?.[kind].has(pattern);
  }

  /**
   * Opens a socket unless one is open or opening. Resolves on the server's Hello, not on the TCP
   * connect: a peer whose kernel accepts while its process hangs (SIGSTOP'd) is not ready, or the
   * watchdog's backoff would reset on every accept and calls would go into the void. The Hello
   * also implies the TLS handshake (with `tls`) and, with an authenticating server, our token's
   * acceptance. Rejects with the failure (ConnectTimeoutError after connectAttemptTimeout,
   * ConnectionClosedError on close, AuthError / TlsHandshakeError when refused).
   */
  connect(): Promise<void> {
    const state = this.machine.state;
    if (state === 'ready') return Promise.resolve();
    const underWay = this.handshake.underWay;
    if (underWay) return underWay;
    if (state === 'closed') {
      return Promise.reject(new ConnectionClosedError(this.address, 'connection is closed'));
    }
    this.machine.transition('connecting');
    this.goAwayReason = undefined;
    this.serverSettings = undefined;
    try {
      this.transport = this.handshake.open((self) => this.transportListener(self));
    } catch (err) {
      this.attemptFailure = err as Error;
      this.machine.transition('transient-failure', err as Error);
      return Promise.reject(err);
    }
    return this.handshake.start(this.transport);
  }

  /**
   * Sends a request; answers go to `observer`. `timeoutMs` is also the budget the server is told
   * (when its Hello said it reads one). Returns the request id for {@link cancel}. Throws
   * ConnectionClosedError when not ready, FrameTooLargeError at once for a request too big to send,
   * BackpressureError when the socket's unsent bytes would pass `maxWriteBuffer` (the server reads
   * slower than we send: nothing was sent, another provider may take it; the connection lives).
   */
  call(pattern: string, data: unknown, metadata: Metadata | undefined, timeoutMs: number, observer: CallObserver): number {
    const transport = this.requireTransport();
    // Idle → active: the heartbeat may ping now and tighten its deadlines (one check per wake-up).
    if (this.pending.size === 0) this.heartbeat.callStarted();
    const requestId = this.pending.add(pattern, timeoutMs, observer);
    try {
      const budgetMs = this.deadlines ? timeoutMs : undefined;
      transport.write(
        this.withinWriteBuffer(transport, this.encodeForServer({ type: MessageType.Request, requestId, pattern, data, metadata, budgetMs })),
      );
    } catch (err) {
      this.pending.take(requestId);
      throw err;
    }
    return requestId;
  }

  /** The caller stopped listening: forget the call and tell the server to stop its handler. */
  cancel(requestId: number): void {
    if (this.pending.take(requestId)) this.transport?.send({ type: MessageType.Cancel, requestId });
    this.endIfDrained();
  }

  /** Fire-and-forget event. Throws like {@link call}. */
  emit(pattern: string, data: unknown, metadata: Metadata | undefined): void {
    const transport = this.requireTransport();
    transport.write(this.withinWriteBuffer(transport, this.encodeForServer({ type: MessageType.Event, pattern, data, metadata })));
  }

  /**
   * `frame`, when the socket has room for it under `maxWriteBuffer`: sends queue up to that bound
   * while the server reads slower than we write, and fail past it instead of growing memory or
   * costing the connection (the transport cuts only a peer that stopped reading altogether).
   */
  private withinWriteBuffer(transport: SocketTransport, frame: Buffer): Buffer {
    const unsent = transport.unsentBytes;
    if (transport.hasRoomFor(frame.length, unsent)) return frame;
    this.codec.releaseFrame(frame);
    throw new BackpressureError('maxWriteBuffer', unsent + frame.length, transport.maxWriteBuffer, this.address);
  }

  /** Terminal: fails pending calls, closes the socket, cancels timers. Idempotent. */
  close(reason = 'client closed'): void {
    if (this.machine.state === 'closed') return;
    const error = new ConnectionClosedError(this.address, reason);
    this.heartbeat.stop();
    const transport = this.transport;
    this.transport = undefined;
    // Settle a connect under way now: its transport's close is ignored from here on.
    this.handshake.abort(error);
    this.machine.transition('closed', error);
    this.pending.failAll(this.address, error);
    transport?.destroy(error);
  }

  /**
   * Encodes a frame within our limit (the codec's) and the one the server's Hello announced: a
   * frame the server refuses makes it cut the connection and every call on it; fail this one only.
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
        this.endIfDrained();
        return;
      case MessageType.Error:
        if (this.machine.state === 'connecting') {
          // Refused before the server's Hello (token, client certificate): it closes next.
          this.transport?.destroy(refusalFromServer(this.address, message.error));
          return;
        }
        // The server's own refusals and failures (busy: nothing ran, a failover is safe; an answer
        // too large for us, ...) become typed errors; a handler's error stays as Nest delivers it.
        this.pending.take(message.requestId)?.onError(remoteError(this.address, message.error));
        this.endIfDrained();
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
    this.endIfDrained();
  }

  private onHello(settings: HelloSettings): void {
    this.serverSettings = settings;
    this.deadlines = settings.deadlines === true;
    this.served = settings.patterns
      ? { patterns: new Set(settings.patterns), events: new Set(settings.events ?? []) }
      : undefined;
    this.handshake.serverHello(settings);
    // On a fresh socket, the server's Hello makes the connection ready for calls.
    if (this.machine.state === 'connecting') {
      this.handshake.succeeded(this.transport!);
      this.attemptFailure = undefined;
      this.machine.transition('ready');
    }
  }

  private onGoAway(reason: string): void {
    if (this.goAwayReason !== undefined) return;
    this.goAwayReason = reason;
    this.logger.log(`${this.address}: server is draining (${quotePeer(reason)}); no new calls on this connection`);
    this.listener.onGoAway?.(this, reason);
    this.endIfDrained();
  }

  /**
   * After a GoAway, the client closes once its last call settled: the server keeps answering
   * until then (calls written before the GoAway arrived) and waits for this end, not the reverse.
   */
  private endIfDrained(): void {
    if (this.goAwayReason !== undefined && this.pending.size === 0) this.transport?.end();
  }

  private onTransportClosed(error: Error | undefined): void {
    this.heartbeat.stop();
    this.transport = undefined;
    const state = this.machine.state;
    if (state === 'closed') return;
    if (state === 'connecting') {
      const reason = this.handshake.failed(error);
      this.attemptFailure = reason;
      this.machine.transition('transient-failure', reason);
      return;
    }
    // Listeners get a typed reason; a socket error (ECONNRESET...) stays reachable as its cause.
    const reason =
      error === undefined
        ? new ConnectionClosedError(this.address, this.goAwayReason === undefined ? 'closed by peer' : `server went away (${quotePeer(this.goAwayReason)})`)
        : error instanceof MsRpcError
          ? error
          : new ConnectionClosedError(this.address, error.message, { cause: error });
    const failed = this.pending;
    this.pending = this.newPendingCalls();
    this.machine.transition('transient-failure', reason);
    failed.failAll(this.address, reason);
  }

  private newPendingCalls(): PendingCalls {
    return new PendingCalls((requestId, pattern, timeoutMs, observer) => {
      observer.onError(new RpcTimeoutError(pattern, timeoutMs, { address: this.address }));
      // Tell the server to stop working on an answer nobody waits for.
      this.transport?.send({ type: MessageType.Cancel, requestId });
      this.endIfDrained();
    }, this.clock);
  }
}
