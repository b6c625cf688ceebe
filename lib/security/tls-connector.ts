import type { Socket } from 'node:net';
import { connect, createSecureContext, TLSSocket, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { TlsHandshakeError } from '../errors/tls-handshake-error.js';

/**
 * Opens client sockets with TLS. The secure context (CA, certificate, key) is parsed once, here,
 * not on every connect; everything else in `options` goes to `tls.connect` as given (servername,
 * rejectUnauthorized, checkServerIdentity, minVersion...), with host and port from the provider.
 */
export function createTlsSocketFactory(options: TlsConnectionOptions): (host: string, port: number) => Socket {
  const secureContext = options.secureContext ?? createSecureContext(options);
  return (host, port) => connect({ ...options, secureContext, host, port });
}

/**
 * Follows the handshake of one client TLS socket, so that a failure during connect can be told
 * apart: a TLS failure (untrusted certificate, missing client certificate, a peer that does not
 * speak TLS) is a configuration problem and becomes a TlsHandshakeError; a refused or timed-out
 * TCP connect stays what it is (the provider may just be restarting).
 */
export class TlsHandshakeWatch {
  private tcpConnected = false;
  private secured = false;

  constructor(private readonly socket: TLSSocket) {
    socket.once('connect', () => (this.tcpConnected = true));
    socket.once('secureConnect', () => (this.secured = true));
  }

  /** Runs `fn` once the handshake is done (never, if it fails). */
  onSecured(fn: () => void): void {
    if (this.secured) fn();
    else this.socket.once('secureConnect', fn);
  }

  /** Watches `socket` when it is a TLS socket. */
  static of(socket: Socket): TlsHandshakeWatch | undefined {
    return socket instanceof TLSSocket ? new TlsHandshakeWatch(socket) : undefined;
  }

  /**
   * Why a socket failed before the server's Hello, when TLS has something to say about it:
   * a TlsHandshakeError for a TLS failure (under TLS 1.3 a server's alert can come after the
   * client saw the handshake complete, so an alert counts even once secured); a
   * ConnectionClosedError that says so for a peer that hung up mid-handshake (a plain TCP server
   * refusing a ClientHello, but also a server at its connection limit: no verdict on TLS, so it
   * stays a retryable failure); undefined otherwise.
   */
  classify(address: string, error: Error | undefined): MsRpcError | undefined {
    // Our own verdicts (connect deadline, a refusal by the server) keep their type.
    if (error instanceof MsRpcError) return undefined;
    if (error && isTlsError(error)) return new TlsHandshakeError(address, describeTlsError(error), { cause: error });
    if (this.tcpConnected && !this.secured) {
      return new ConnectionClosedError(address, 'closed by peer during the TLS handshake (does the server use TLS?)', {
        cause: error,
      });
    }
    return undefined;
  }
}

/** X.509 verification codes Node reports for a server certificate it does not trust. */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** An error raised by OpenSSL or by Node's certificate checks, as opposed to a socket error. */
export function isTlsError(error: Error): boolean {
  const e = error as Error & { code?: unknown; library?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  return (
    typeof e.library === 'string' ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code === 'EPROTO' ||
    UNTRUSTED_CERT_CODES.has(code)
  );
}

/** One readable line: OpenSSL messages carry a hex prefix and a source path; keep the reason. */
function describeTlsError(error: Error): string {
  const e = error as Error & { code?: unknown; reason?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const reason =
    (typeof e.reason === 'string' && e.reason) ||
    /SSL routines:[^:]*:([^:]+)/.exec(error.message)?.[1] ||
    error.message.split('\n')[0];
  let hint = '';
  if (/wrong version number|packet length too long|unknown protocol|http request/i.test(reason)) {
    hint = ' (the peer does not speak TLS)';
  } else if (/certificate required/i.test(reason)) {
    hint = ' (the server requires a client certificate: set tls.cert and tls.key)';
  } else if (code !== undefined && UNTRUSTED_CERT_CODES.has(code) && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
    hint = ' (the server certificate is not trusted: check tls.ca)';
  }
  return `${reason}${code && !reason.includes(code) ? ` [${code}]` : ''}${hint}`;
}
