import { MsRpcError } from './ms-rpc-error.js';

/**
 * The TLS handshake with a provider failed: its certificate is not trusted (wrong CA, wrong host
 * name, expired), the server demanded a client certificate this client does not have, or one
 * side speaks TLS and the other plain TCP. `cause` is Node's TLS error (its `code`, e.g.
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE` or `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, says which).
 * A configuration problem, not a passing one: calls fail with it at once.
 */
export class TlsHandshakeError extends MsRpcError {
  constructor(
    readonly address: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_TLS_HANDSHAKE', `TLS handshake with ${address} failed: ${detail}`, options);
  }
}
