import { MsRpcLogger, quotePeer } from '../common/logger.js';
import { AuthError, isAuthErrorPayload } from '../errors/auth-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { TlsHandshakeError } from '../errors/tls-handshake-error.js';

/** A provider's verdict on our credentials: retrying the same ones cannot change it. */
export type SecurityRefusal = AuthError | TlsHandshakeError;

/**
 * The typed error for an error frame a server sent before its Hello: it refuses the connection
 * (a wrong or missing token, a client certificate it does not accept) and closes it. The peer's
 * text is shortened: it ends up in logs and errors.
 */
export function refusalFromServer(address: string, payload: unknown): MsRpcError {
  const raw = (payload as { message?: unknown } | null)?.message;
  // Quoted: the peer's words, not ours, in the error message and in the log line that names it.
  const detail = quotePeer((typeof raw === 'string' ? raw : 'refused').replace(/^(authentication failed|TLS handshake with \S+ failed): /, ''), 160);
  if (isAuthErrorPayload(payload)) return new AuthError(detail, { address });
  if ((payload as { code?: unknown } | null)?.code === 'ERR_TLS_HANDSHAKE') {
    return new TlsHandshakeError(address, `refused by the server: ${detail}`);
  }
  return new ConnectionClosedError(address, `refused by the server: ${detail}`);
}

/**
 * Remembers whether a connection slot's last connect attempt was refused for security, until
 * one succeeds. Warns when a refusal starts or changes kind, not on every backoff attempt.
 */
export class RefusalTracker {
  private current: SecurityRefusal | undefined;

  constructor(
    private readonly address: string,
    private readonly logger: MsRpcLogger,
  ) {}

  get refusal(): SecurityRefusal | undefined {
    return this.current;
  }

  /** A connect attempt failed with `reason`. */
  failed(reason: Error): void {
    const previous = this.current;
    this.current = reason instanceof AuthError || reason instanceof TlsHandshakeError ? reason : undefined;
    if (this.current && previous?.code !== this.current.code) {
      this.logger.warn(`${this.current.message}; calls to ${this.address} fail at once, reconnecting with backoff`);
    }
  }

  succeeded(): void {
    this.current = undefined;
  }
}
