/**
 * Stable, machine-readable error codes. A caller switches on `code`, never on the message text.
 */
export type MsRpcErrorCode =
  | 'ERR_RPC_TIMEOUT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_NO_PROVIDER'
  | 'ERR_NO_HANDLER'
  | 'ERR_FRAME_DECODE'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_CLIENT_CLOSED'
  | 'ERR_REGISTRY'
  | 'ERR_SERVER_BUSY'
  | 'ERR_AUTH'
  | 'ERR_TLS_HANDSHAKE'
  | 'ERR_FRAME_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_CANCELLED'
  | 'ERR_BACKPRESSURE'
  | 'ERR_ENCODE'
  | 'ERR_MISSING_DEPENDENCY';

/**
 * Base class of every error this library raises. Carries a stable `code` and the
 * underlying `cause` (ES2022 error cause), so callers can both branch and debug.
 */
export class MsRpcError extends Error {
  readonly code: MsRpcErrorCode;

  constructor(code: MsRpcErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    // Subclasses set their own name through `new.target`, which survives minification.
    this.name = new.target.name;
  }

  /** Plain form used when the error crosses the wire or goes into logs as JSON. */
  toJSON(): { name: string; code: MsRpcErrorCode; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}
