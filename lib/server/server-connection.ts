import type { Socket } from 'node:net';
import { Clock, systemClock } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { BackpressureError } from '../errors/backpressure-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { EncodeError } from '../errors/encode-error.js';
import { FrameTimeoutError } from '../errors/frame-timeout-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { ProtocolError } from '../errors/protocol-error.js';
import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import { FrameDeadline } from '../liveness/frame-deadline.js';
import type { IdleSweep, IdleSweepMember } from '../liveness/idle-sweep.js';
import { CodecId, Frame, MessageType } from '../protocol/frame-header.js';
import { EventMessage, HelloSettings, Message, RequestMessage } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { plainError } from '../protocol/wire-error.js';
import { ActivitySink, fitsUnder, SocketTransport, TransportListener } from '../connection/socket-transport.js';
import type { HandlerRun } from './handler-run.js';
import { InFlightRequest, InFlightRequests, isAdmitted, RequestBookkeeping } from './in-flight-requests.js';
import { HandshakeOwner, ServerHandshake } from './server-handshake.js';
import { StreamBacklog } from './stream-backlog.js';
import type { TokenAuthenticator } from '../security/token-authenticator.js';

export type { InFlightRequest };

/** Where a server connection sends what it cannot handle itself (the Nest server). */
export interface RequestDispatcher {
  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void;
  /** An admitted event: `run` holds its slot until the handler is done. */
  onEvent(connection: ServerConnection, message: EventMessage, run: HandlerRun): void;
  onClosed(connection: ServerConnection, error: Error | undefined): void;
}

/** Shared by every connection of a server (one object: heap per idle connection). */
export interface ServerConnectionOptions extends RequestBookkeeping {
  idleTimeout: number;
  /**
   * Shared by every connection of a server: closes connections whose reader was idle for
   * `idleTimeout` (one timer per server, not one per connection). Absent when `idleTimeout` is 0.
   */
  idleSweep?: IdleSweep;
  /** A frame that started must be complete within this many ms (0 = no limit). */
  frameTimeout?: number;
  /** Unsent bytes of the connection past which answers fail with a BackpressureError. */
  maxWriteBuffer: number;
  /** Unsent bytes of one response stream past which it fails alone (BackpressureError). */
  maxStreamBuffer: number;
  /** Over `maxWriteBuffer` with nothing flushed for this long (ms), the peer is cut as not reading. */
  writeStallTimeout: number;
  /** Clients must present a valid token before anything is dispatched (see ServerHandshake). */
  authenticator?: TokenAuthenticator;
  /** Time a client has to present its token, with an authenticator. @default 5000 */
  handshakeTimeout?: number;
  /** Refuse this client at once, with this error, before reading anything (mTLS verdict). */
  refusal?: MsRpcError;
  /** What the server serves, announced in its Hello (clients in direct mode route by it). */
  served?: () => ServedPatterns;
}

/** The request and event patterns a server has handlers for. */
export interface ServedPatterns {
  patterns: string[];
  events: string[];
}

/**
 * The server's side of one client socket: announces its settings (Hello), answers pings,
 * closes when the reader stays idle, tracks in-flight requests for cancel and drain.
 */
export class ServerConnection implements TransportListener, ActivitySink, IdleSweepMember, HandshakeOwner {
  readonly remoteAddress: string;
  /** IdleSweepMember: clock time of the last read. */
  lastReadAt = 0;
  private readonly transport: SocketTransport;
  /**
   * Created by the first request: a connection that only ever sees pings (most of an idle
   * fleet) never pays for the Map. See {@link inFlight}.
   */
  private requests: InFlightRequests | undefined;
  private goingAway = false;
  private readonly frameDeadline: FrameDeadline;
  private readonly handshake: ServerHandshake;
  /** Closed by the idle timeout: a client that went away quietly, not a fault worth a warning. */
  private idledOut = false;
  /** This connection's first fault was logged as a warning; later ones go to debug. */
  private faultLogged = false;
  /** Set when the server's shutdown destroys this connection: what its running handlers are aborted with. */
  private shutdownReason: RequestCancelledError | undefined;

  constructor(
    socket: Socket,
    private readonly codec: MessageCodec,
    private readonly dispatcher: RequestDispatcher,
    private readonly options: ServerConnectionOptions,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
  ) {
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    // This connection is its transport's listener and activity sink, and a member of the
    // server's idle sweep: no per-connection closures or timers (heap per idle connection).
    this.transport = new SocketTransport(socket, codec, this, this.remoteAddress, options.maxWriteBuffer, {
      timeoutMs: options.writeStallTimeout,
      clock,
    });
    this.frameDeadline = new FrameDeadline(options.frameTimeout ?? 0, clock);
    this.transport.activity = this;
    options.idleSweep?.add(this);
    // The shared options carry the handshake settings: no per-connection copy.
    this.handshake = new ServerHandshake(this.transport, this, options, clock);
    this.handshake.start();
  }

  /** HandshakeOwner: what this server announces in its Hello (built when sent, not kept). */
  serverHello(): HelloSettings {
    return { idleTimeoutMs: this.options.idleTimeout, maxFrameSize: this.codec.maxFrameSize, deadlines: true, ...this.options.served?.() };
  }

  /** The in-flight requests by id (created on first use). */
  private get inFlight(): InFlightRequests {
    return (this.requests ??= new InFlightRequests(this.options));
  }

  /** ActivitySink: a chunk arrived. One store; the idle sweep reads it. */
  markRead(): void {
    this.lastReadAt = this.clock.now();
  }

  /** ActivitySink: the server has no writer-idle duty (clients ping, the server answers). */
  markWrite(): void {}

  /** ActivitySink: a chunk was decoded; the slowloris check on a frame still incomplete. */
  afterRead(): void {
    if (this.frameDeadline.limitMs > 0) this.checkFrameDeadline();
  }

  /** IdleSweepMember: nothing was read for `idleTimeout`; the sweep has dropped this connection. */
  onIdle(idleForMs: number): void {
    const buffered = this.transport.bufferedBytes;
    if (buffered > 0) {
      // A frame started, then the peer went silent: the slowloris that sends nothing more (the
      // frame deadline is checked as bytes arrive). A fault, unlike a quiet idle connection.
      const since = this.frameDeadline.startedAt;
      const elapsed = since === undefined ? idleForMs : this.clock.now() - since;
      const limit = this.frameDeadline.limitMs || this.options.idleTimeout;
      this.transport.destroy(new FrameTimeoutError(this.remoteAddress, elapsed, limit, buffered));
      return;
    }
    this.idledOut = true;
    this.transport.destroy(
      new ConnectionClosedError(
        this.remoteAddress,
        `reader idle for ${idleForMs} ms (idleTimeout ${this.options.idleTimeout} ms)`,
      ),
    );
  }

  get inFlightCount(): number {
    return this.requests?.size ?? 0;
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  /**
   * Nothing but bytes that form no frame came from this peer yet: our clients say Hello as soon as
   * they are connected, so this is a TCP probe or a port scanner, or a client whose Hello is still
   * on its way.
   */
  get isStranger(): boolean {
    return this.transport.framesReceived === 0;
  }

  /** Still awaiting its answer: not finished, cancelled, or dropped with the connection. */
  isActive(request: InFlightRequest): boolean {
    return this.requests?.get(request.requestId) === request;
  }

  /**
   * Sends one frame of a request's answer. Returns false once the request is finished or gone (the
   * stream must stop). An answer that cannot be sent — too large for the client, unencodable, or
   * over a write buffer (backpressure) — fails its call only: the caller gets one typed error, the
   * metrics count it, the handler's stream is stopped and its signal aborted.
   */
  respond(request: InFlightRequest, message: Message): boolean {
    const requests = this.requests;
    if (requests?.get(request.requestId) !== request) return false;
    let frame: Buffer;
    try {
      frame = this.encodeAnswer(message, request.codec);
    } catch (err) {
      this.answerFailed(request, err);
      return false;
    }
    const type = message.type;
    const transport = this.transport;
    if (type !== MessageType.Error) {
      // An error ends the call and is small: it always goes. Values and completions queue only
      // while their stream and the connection have room.
      const overflow = this.overflow(request, frame.length);
      if (overflow !== undefined) {
        this.codec.releaseFrame(frame);
        this.answerFailed(request, overflow);
        return false;
      }
    }
    if (type === MessageType.Response) {
      transport.write(frame);
      (request.backlog ??= new StreamBacklog()).add(transport.queuedTotal, frame.length);
      return true;
    }
    requests.finish(request.requestId, type === MessageType.End ? 'ok' : { error: (message as { error?: unknown }).error });
    transport.write(frame);
    return false;
  }

  /** Why a frame of `size` bytes for `request` must not be queued now (backpressure), if it must not. */
  private overflow(request: InFlightRequest, size: number): BackpressureError | undefined {
    const transport = this.transport;
    const backlog = request.backlog;
    if (backlog !== undefined) {
      const limit = this.options.maxStreamBuffer;
      let streamUnsent = backlog.unsent(transport.flushedBytes());
      // Frames queued in this tick may still fit in the kernel: only what it refuses counts.
      if (!fitsUnder(size, streamUnsent, limit) && transport.flushQueued()) streamUnsent = backlog.unsent(transport.flushedBytes());
      if (!fitsUnder(size, streamUnsent, limit)) {
        return new BackpressureError('maxStreamBuffer', streamUnsent + size, limit, this.remoteAddress);
      }
    }
    const unsent = transport.unsentBytes;
    if (!transport.hasRoomFor(size, unsent)) {
      return new BackpressureError('maxWriteBuffer', unsent + size, transport.maxWriteBuffer, this.remoteAddress);
    }
    return undefined;
  }

  /**
   * Encodes an answer within the frame limit the client announced: a larger one fails its call
   * only (the caller gets a FrameTooLargeError), where the client's decoder would have cut the
   * whole connection.
   */
  private encodeAnswer(message: Message, codec: CodecId): Buffer {
    const frame = this.codec.encode(message, codec);
    const limit = this.handshake.clientMaxFrameSize;
    if (limit !== undefined && frame.length > limit) {
      this.codec.releaseFrame(frame);
      throw new FrameTooLargeError(frame.length, limit, 'Response frame (client limit)');
    }
    return frame;
  }

  /** Fails a call whose answer cannot be sent: one typed error reply, counted, logged (rate-limited). */
  private answerFailed(request: InFlightRequest, err: unknown): void {
    const error = err instanceof MsRpcError ? err : new EncodeError(`Answer to "${request.pattern}"`, { cause: err });
    this.requests?.finish(request.requestId, { error });
    // The reply is the error's plain form (code, name, sizes; never the value that failed), which
    // always encodes and always fits the client's limit.
    this.transport.send({ type: MessageType.Error, requestId: request.requestId, error: plainError(error) }, request.codec);
    request.abort(error);
    const what = `answer to "${request.pattern.slice(0, 80)}" not sent`;
    if (error instanceof BackpressureError) {
      // A slow reader is not a fault: its caller got the typed error and the metrics count it.
      this.logger.debug?.(`${this.remoteAddress}: ${what}: ${error.message}`);
    } else {
      // Too large for the limit this client announced or for the server's own, or unencodable
      // (what a peer sends can decode and yet not encode back, e.g. JSON nested too deep): a
      // warning naming the pattern and the size or the reason, once per connection.
      this.reportFault(what, error);
    }
  }

  /**
   * Announces draining. The server keeps reading and answering, and leaves closing to the client
   * (it ends its socket once its last call settles; see Connection): a request it wrote before
   * the GoAway reached it is still on its way, and ending here would drop its answer (an
   * idempotent call would run twice, another fail after it ran). The owner destroys connections
   * still open after its `shutdownTimeout` (clients that never close).
   */
  goAway(reason: string): void {
    if (!this.handshake.isOpen) {
      // Not authenticated: nothing to drain, and nothing to tell a stranger.
      this.transport.destroy();
      return;
    }
    if (this.goingAway || !this.transport.isOpen) return;
    this.goingAway = true;
    this.transport.send({ type: MessageType.GoAway, reason });
  }

  /**
   * The server closes this connection now (its shutdown ran out of time): handlers still running
   * for its calls are aborted with a RequestCancelledError ('server-shutdown'). `error`, if given,
   * is the reason the connection reports.
   */
  destroy(error?: Error): void {
    this.shutdownReason ??= new RequestCancelledError('server-shutdown', 'the server closed before the handler finished (shutdownTimeout)');
    this.transport.destroy(error);
  }

  /** TransportListener: a well-formed message from the client. */
  onMessage(message: Message, codec: CodecId): void {
    if (!this.handshake.isOpen) {
      // Not authenticated yet (or refused): nothing is dispatched.
      this.handshake.onMessage(message);
      return;
    }
    switch (message.type) {
      case MessageType.Request: {
        if (message.requestId === 0) {
          this.transport.destroy(new ProtocolError(this.remoteAddress, 'a request with id 0, which is reserved (events, hello, go-away)'));
          return;
        }
        const admitted = this.inFlight.admit(message.requestId, message.pattern, codec);
        if (isAdmitted(admitted)) {
          // Relative to when its bytes arrived (the read's clock time, taken anyway): the time the
          // request waited in this chunk counts against the caller's budget.
          if (message.budgetMs !== undefined) admitted.deadlineAt = this.lastReadAt + message.budgetMs;
          this.dispatcher.onRequest(this, message, admitted);
        }
        // Refused (busy, duplicate id): the codec's wire mapper makes the error a plain object.
        else this.transport.send({ type: MessageType.Error, requestId: message.requestId, error: admitted }, codec);
        return;
      }
      case MessageType.Event: {
        const run = this.inFlight.admitEvent(message.pattern, this.remoteAddress);
        if (run !== undefined) this.dispatcher.onEvent(this, message, run);
        return;
      }
      case MessageType.Ping:
        this.transport.send({ type: MessageType.Pong, requestId: message.requestId }, codec);
        return;
      case MessageType.Hello:
        this.handshake.onMessage(message);
        return;
      case MessageType.Pong:
        return;
      case MessageType.Cancel:
        this.requests
          ?.finish(message.requestId, 'cancelled')
          ?.abort(new RequestCancelledError('client-cancel', 'the caller cancelled the call (unsubscribed or timed out)'));
        return;
      default:
        this.transport.destroy(
          new ProtocolError(this.remoteAddress, `client sent a ${MessageType[message.type]} frame, which only servers send`),
        );
    }
  }

  /**
   * Logs bad input from this peer. Only the first fault of a connection is a warning (naming
   * the typed error); later ones go to debug, so a hostile peer costs one log line per
   * connection however much garbage it sends.
   */
  reportFault(what: string, error?: Error): void {
    const line = `${this.remoteAddress}: ${what}${error ? `: ${error.name}: ${error.message}` : ''}`;
    if (this.faultLogged) {
      this.logger.debug?.(line);
      return;
    }
    this.faultLogged = true;
    this.logger.warn(`${line} (further faults on this connection are logged at debug level)`);
  }

  private checkFrameDeadline(): void {
    const buffered = this.transport.bufferedBytes;
    const elapsed = this.frameDeadline.afterChunk(buffered, this.transport.framesReceived);
    if (elapsed < 0) return;
    this.transport.destroy(new FrameTimeoutError(this.remoteAddress, elapsed, this.frameDeadline.limitMs, buffered));
  }

  /** TransportListener: a frame whose body could not be decoded. */
  onBadFrame(frame: Frame, error: MsRpcError): void {
    if (this.handshake.onBadFrame()) return;
    this.reportFault(`undecodable ${MessageType[frame.type]} frame`, error);
    if ((frame.type === MessageType.Request || frame.type === MessageType.DeadlineRequest) && !this.requests?.has(frame.requestId)) {
      this.transport.send({ type: MessageType.Error, requestId: frame.requestId, error }, frame.codec);
    }
  }

  /** TransportListener: the socket is gone. */
  onClose(error: Error | undefined): void {
    this.options.idleSweep?.delete(this);
    this.handshake.stop();
    if (error instanceof MsRpcError && !this.idledOut) {
      // Closed by this server for what the peer sent (or did not read): a fault.
      this.reportFault('connection closed', error);
    } else if (error) {
      // Idle timeouts and resets: clients going away, not faults.
      this.logger.debug?.(`${this.remoteAddress} closed: ${error.message}`);
    }
    const requests = this.requests;
    if (requests !== undefined && requests.size > 0) {
      requests.cancelAll(
        this.shutdownReason ??
          new RequestCancelledError('connection-lost', `the connection from ${this.remoteAddress} closed`, { cause: error }),
      );
    }
    this.dispatcher.onClosed(this, error);
  }
}
