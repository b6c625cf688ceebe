import { Clock } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { ConnectTimeoutError } from '../errors/connect-timeout-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { MessageType } from '../protocol/frame-header.js';
import { HelloSettings } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { createTlsSocketFactory, TlsHandshakeWatch } from '../security/tls-connector.js';
import { ConnectAttempt, defaultSocketFactory, SocketFactory } from './connect-attempt.js';
import { RefusalTracker, SecurityRefusal } from './connect-refusal.js';
import { ConnectionLiveness } from './connection-liveness.js';
import { ConnectionOptions } from './connection-options.js';
import { SocketTransport, TransportListener } from './socket-transport.js';

/**
 * The client side of the Hello exchange, for each socket of one connection slot: opens it, says
 * our Hello once it can carry it, fits the heartbeat to the server's Hello, and settles the
 * attempt under way, telling why one failed (a TLS or token refusal is remembered: retrying
 * cannot fix it). The slot keeps the state machine and the calls: nothing here is on a call's
 * path. The server's side is ServerHandshake.
 */
export class ConnectionHandshake {
  private readonly address: string;
  private readonly openSocket: SocketFactory;
  /** What this client announces: its frame limit (the server must not exceed it) and its token. */
  private readonly hello: HelloSettings;
  private readonly refusals: RefusalTracker;
  /** The connect under way (TCP connect + Hello), if any. */
  private attempt: ConnectAttempt | undefined;
  /** Follows the TLS handshake of the socket being connected (TLS only). */
  private tlsWatch: TlsHandshakeWatch | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly options: ConnectionOptions,
    private readonly codec: MessageCodec,
    private readonly heartbeat: ConnectionLiveness,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock,
    socketFactory: SocketFactory | undefined,
  ) {
    this.address = `${host}:${port}`;
    this.refusals = new RefusalTracker(this.address, logger);
    this.openSocket = socketFactory ?? (options.tls ? createTlsSocketFactory(options.tls) : defaultSocketFactory);
    this.hello = { idleTimeoutMs: 0, maxFrameSize: codec.maxFrameSize };
    if (options.authToken !== undefined) this.hello.authToken = options.authToken;
  }

  /** See Connection.rejection. */
  get refusal(): SecurityRefusal | undefined {
    return this.refusals.refusal;
  }

  /** The promise of the connect under way, if any. */
  get underWay(): Promise<void> | undefined {
    return this.attempt?.promise;
  }

  /**
   * Opens a socket; its transport reports to `listenerFor(self)`, `self` giving that transport so
   * events from a replaced one can be told apart. Throws what the socket factory throws.
   */
  open(listenerFor: (self: () => SocketTransport) => TransportListener): SocketTransport {
    try {
      const socket = this.openSocket(this.host, this.port);
      // An idle client holds nothing (as grpc-js's channels): the calls that await an answer hold
      // the process (ProcessHold), not the connections they travel on.
      socket.unref();
      this.tlsWatch = TlsHandshakeWatch.of(socket);
      const transport: SocketTransport = new SocketTransport(
        socket,
        this.codec,
        listenerFor(() => transport),
        this.address,
        this.options.maxWriteBuffer,
      );
      return transport;
    } catch (err) {
      // A factory that throws (bad address) fails the attempt as a refused connect would.
      this.refusals.failed(err as Error);
      throw err;
    }
  }

  /**
   * Starts the attempt on the transport just opened (and already the slot's, so that events it
   * raises at once are not taken for a replaced socket's): its deadline, then our Hello.
   */
  start(transport: SocketTransport): Promise<void> {
    const timeoutMs = this.options.connectAttemptTimeout;
    this.attempt = new ConnectAttempt(this.clock, timeoutMs, () =>
      transport.destroy(new ConnectTimeoutError(this.address, timeoutMs)),
    );
    // Said once connected (with TLS, once secured: the token never leaves in clear): the server
    // learns our frame limit and, when it authenticates, checks the token before its own Hello.
    const sayHello = () => {
      try {
        transport.send({ type: MessageType.Hello, settings: this.hello });
      } catch (err) {
        transport.destroy(err as Error);
      }
    };
    if (this.tlsWatch) this.tlsWatch.onSecured(sayHello);
    else if (transport.socket.pending) transport.socket.once('connect', sayHello);
    else sayHello();
    return this.attempt.promise;
  }

  /** Fits the heartbeat to the idle window the server announced (any Hello, not only the first). */
  serverHello(settings: HelloSettings): void {
    const { interval, idleInterval } = this.heartbeat.applyHello(settings);
    // The idle interval is a saving the server's window bounds: lowering it alone is routine.
    const configured = this.options.heartbeatInterval;
    const message =
      `${this.address}: server closes idle connections after ${settings.idleTimeoutMs} ms; ` +
      `heartbeatInterval ${configured} ms adapted to ${interval} ms (idle: ${idleInterval} ms) for this connection`;
    if (interval !== configured) this.logger.warn(message);
    else if (idleInterval !== this.heartbeat.configuredIdleInterval) this.logger.debug?.(message);
  }

  /** The server's Hello arrived on `transport`, the socket being connected: the attempt succeeded. */
  succeeded(transport: SocketTransport): void {
    this.refusals.succeeded();
    const attempt = this.takeAttempt();
    transport.activity = this.heartbeat;
    this.heartbeat.start();
    attempt?.succeed();
  }

  /**
   * The socket being connected closed before the server's Hello (`error` is why, if known).
   * Fails the attempt and returns the typed reason, a refusal being remembered before the slot
   * reports the failure, so that whoever it tells can already see {@link refusal}.
   */
  failed(error: Error | undefined): Error {
    const reason =
      this.tlsWatch?.classify(this.address, error) ??
      error ??
      new ConnectionClosedError(this.address, 'closed by peer before its Hello');
    this.refusals.failed(reason);
    this.takeAttempt()?.fail(reason);
    return reason;
  }

  /** The slot was closed: the attempt under way, if any, fails with `error`. */
  abort(error: Error): void {
    this.takeAttempt()?.fail(error);
  }

  private takeAttempt(): ConnectAttempt | undefined {
    const attempt = this.attempt;
    this.attempt = undefined;
    return attempt;
  }
}
