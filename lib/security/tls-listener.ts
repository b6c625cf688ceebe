import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type TlsOptions } from 'node:tls';
import { Clock, systemClock } from '../common/clock.js';
import type { MsRpcLogger } from '../common/logger.js';
import { LOG_INTERVAL_MS, RateLimitedLog } from '../common/rate-limited-log.js';
import { TlsHandshakeError } from '../errors/tls-handshake-error.js';
import { isTlsError } from './tls-connector.js';

export interface ListenerSecurity {
  /** Listen with TLS (tls.createServer options, passed through). */
  tls?: TlsOptions;
  /** Deadline of the TLS handshake (ms), unless `tls.handshakeTimeout` is set. */
  handshakeTimeout: number;
}

/**
 * The listening socket of a server: plain TCP, or TLS when `tls` is set. With TLS, `onSocket`
 * gets each connection once its handshake is done; a client that fails the handshake, or does
 * not finish it within `handshakeTimeout` of its accept (`tls.handshakeTimeout` when given),
 * never reaches the RPC layer: its socket is destroyed and its failure logged with its address,
 * rate-limited (a scanner or a misconfigured fleet can fail thousands of handshakes: the first is
 * logged at once, the others as one line per 10 s with their count and the last one's detail). Node reports a handshake timeout but leaves the socket open: a peer that never
 * starts its handshake would hold it forever, so every handshake failure is destroyed here.
 *
 * mTLS (`requestCert` without `rejectUnauthorized: false`) is enforced one step later, by
 * {@link clientCertificateRefusal}: left to Node, a client whose certificate is refused sees its
 * handshake succeed (TLS 1.3) and the connection then drop without a word, which it can only
 * take for a network failure and wait out its timeout. Refused at the RPC layer, it gets an
 * error frame naming the reason and fails at once; either way no frame of it is ever read.
 */
export function createRpcListener(
  security: ListenerSecurity,
  onSocket: (socket: Socket) => void,
  logger: MsRpcLogger,
  clock: Clock = systemClock,
): NetServer {
  if (!security.tls) return createServer(onSocket);
  const tls = requiresClientCertificate(security.tls) ? { ...security.tls, rejectUnauthorized: false } : security.tls;
  const server = createTlsServer({ ...tls, handshakeTimeout: tls.handshakeTimeout ?? security.handshakeTimeout }, onSocket);
  const failures = new RateLimitedLog((line) => logger.warn(line), LOG_INTERVAL_MS, clock);
  // Peers by raw socket, read on accept: once a handshake failed the socket is gone, and its address with it.
  const peers = new WeakMap<Socket, string>();
  server.on('connection', (raw: Socket) => peers.set(raw, peerOf(raw)));
  server.on('close', () => failures.close());
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    const peer = (raw && peers.get(raw)) ?? peerOf(socket);
    socket.destroy();
    const code = (err as { code?: unknown }).code;
    const reason = (err as { reason?: unknown }).reason;
    const detail = typeof reason === 'string' ? reason : err.message.split('\n')[0];
    const wentAway = !isTlsError(err) && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT';
    const line = `${peer}: TLS handshake failed: ${detail}${typeof code === 'string' ? ` [${code}]` : ''}${wentAway ? ' (the client went away)' : ''}`;
    // Connected and left without a byte: a TCP health probe or a port check, not a failed handshake.
    if (wentAway && raw?.bytesRead === 0) logger.debug?.(`${peer}: closed before starting a TLS handshake (a TCP probe?)`);
    else failures.report(line);
  });
  return server;
}

function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
}

/** mTLS as configured: client certificates requested and unauthorized ones to be rejected. */
function requiresClientCertificate(tls: TlsOptions): boolean {
  return tls.requestCert === true && tls.rejectUnauthorized !== false;
}

/**
 * Why a TLS client must be refused under mTLS (no certificate, or one the `ca` does not vouch
 * for), or undefined when it may proceed (authorized, or mTLS not required).
 */
export function clientCertificateRefusal(socket: Socket, tls: TlsOptions | undefined, address: string): TlsHandshakeError | undefined {
  if (!tls || !requiresClientCertificate(tls) || !(socket instanceof TLSSocket) || socket.authorized) return undefined;
  const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  const reason = socket.authorizationError ? String(socket.authorizationError) : 'not authorized';
  return new TlsHandshakeError(
    address,
    presented ? `client certificate rejected (${reason})` : 'a client certificate is required (set tls.cert and tls.key)',
  );
}
