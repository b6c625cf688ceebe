import { Clock, TimerHandle } from '../common/clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { MsRpcError } from '../errors/ms-rpc-error.js';
import { MessageType } from '../protocol/frame-header.js';
import { HelloSettings, Message } from '../protocol/message.js';
import type { SocketTransport } from '../connection/socket-transport.js';
import type { TokenAuthenticator } from '../security/token-authenticator.js';

/** How long a refused socket may stay half-closed (our error sent) before it is destroyed. */
const REFUSAL_LINGER_MS = 1000;

/** The server's settings for the handshake: one object shared by all its connections. */
export interface ServerHandshakeSettings {
  /** Set when clients must present a token; without it the connection is open from the start. */
  authenticator?: TokenAuthenticator;
  /** Time a client has to present a valid token (with an authenticator). @default 5000 */
  handshakeTimeout?: number;
  /** Set when the connection is refused before anything is read (a client certificate refused under mTLS). */
  refusal?: MsRpcError;
}

/** The connection the handshake belongs to. */
export interface HandshakeOwner {
  /** What this server announces in its Hello. */
  serverHello(): HelloSettings;
  /** Logs a refusal: once per connection, with the peer's address and never the token. */
  reportFault(what: string, error: Error): void;
}

/**
 * The Hello exchange of one server connection, and its auth gate (token, and the mTLS verdict).
 *
 * Without an authenticator the server says Hello at once and the connection is open; a client
 * Hello, whenever it comes, only tells the client's frame limit. With one, the connection stays
 * shut until the client's Hello carries a valid token: nothing is dispatched, not even pings,
 * and the server withholds its own Hello (so the client's connect resolves only once
 * authenticated). A missing or wrong token, any other frame first, an undecodable frame, or no
 * Hello within `handshakeTimeout` gets one ERR_AUTH error frame, a warning, and a close.
 *
 * Lean on purpose (one small object per connection, settings shared, a timer only while a token
 * is awaited): servers hold thousands of idle connections.
 */
export class ServerHandshake {
  private state: 'pending' | 'open' | 'refused' = 'pending';
  private timer: TimerHandle | undefined;
  private clientLimit: number | undefined;

  constructor(
    private readonly transport: SocketTransport,
    private readonly owner: HandshakeOwner,
    private readonly settings: ServerHandshakeSettings,
    private readonly clock: Clock,
  ) {}

  private get timeoutMs(): number {
    return this.settings.handshakeTimeout ?? 5000;
  }

  /** Says Hello, or starts waiting for the client's token, or refuses at once. */
  start(): void {
    if (this.settings.refusal) {
      this.refuse(this.settings.refusal);
      return;
    }
    if (!this.settings.authenticator) {
      this.open();
      return;
    }
    const timeoutMs = this.timeoutMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'pending') this.refuse(new AuthError(`no Hello with a token within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  /** Authenticated (or no authentication needed): frames may be dispatched. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Largest frame the client accepts, from its Hello; undefined for a client that sent none
   * (an older client), which gets the server's own limit as before.
   */
  get clientMaxFrameSize(): number | undefined {
    return this.clientLimit;
  }

  /** A client Hello, or any message while the connection is not open. */
  onMessage(message: Message): void {
    if (this.state === 'refused') return;
    if (message.type !== MessageType.Hello) {
      if (this.state === 'pending') this.refuse(new AuthError(`${MessageType[message.type] ?? 'unknown'} frame before the Hello`));
      return;
    }
    const settings = message.settings;
    if (this.state === 'pending') {
      const authenticator = this.settings.authenticator!;
      if (!authenticator.verify(settings.authToken)) {
        this.refuse(new AuthError(settings.authToken === undefined ? 'no token in the Hello' : 'invalid token'));
        return;
      }
    }
    this.clientLimit = settings.maxFrameSize;
    if (this.state === 'pending') this.open();
  }

  /** An undecodable frame before the connection opened is refused like any other frame. */
  onBadFrame(): boolean {
    if (this.state === 'open') return false;
    if (this.state === 'pending') this.refuse(new AuthError('undecodable frame before the Hello'));
    return true;
  }

  /** Clears the timers; called when the socket closed. */
  stop(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private open(): void {
    this.stop();
    this.state = 'open';
    this.transport.send({ type: MessageType.Hello, settings: this.owner.serverHello() });
  }

  /**
   * Sends the refusal, then closes gracefully: a reset could make the client drop the error
   * frame unread along with what it still had in flight. Everything the client sends from here
   * on is ignored; a client that never closes its side is destroyed after a short linger.
   */
  private refuse(error: MsRpcError): void {
    this.stop();
    this.state = 'refused';
    this.owner.reportFault('refused', error);
    this.transport.send({
      type: MessageType.Error,
      requestId: 0,
      error: { status: 'error', code: error.code, name: error.name, message: error.message },
    });
    this.transport.end();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.transport.destroy(error);
    }, Math.min(REFUSAL_LINGER_MS, this.timeoutMs));
  }
}
