import { checkInteger } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import {
  CLIENT_SECURITY_OPTION_KEYS,
  ClientSecurityOptions,
  resolveClientSecurityOptions,
} from '../security/security-options.js';

/** Per-connection settings of the client side: liveness, and TLS / token (ClientSecurityOptions). */
export interface ConnectionOptions extends ClientSecurityOptions {
  /**
   * Time allowed for one connect attempt: TCP connect, TLS handshake (with `tls`) and the
   * server's Hello (which an authenticating server sends only once it accepted our token). A SYN
   * that is never answered, or a peer that accepts but never speaks, fails here instead of hanging.
   * @default 3000
   */
  connectAttemptTimeout: number;
  /**
   * While calls are in flight: send a ping when nothing was written, or nothing was received, for
   * this long (ms). 0 disables pings. Lowered automatically when the server announces an idle
   * timeout it would otherwise hit.
   * @default 3000
   */
  heartbeatInterval: number;
  /**
   * While no call is in flight: ping this often (ms). Idle connections then cost the server one
   * ping per this interval (at 10,000 idle connections, the ping rate is all they cost), yet a dead
   * peer is still found `heartbeatTimeout` after an unanswered ping, and a call starting on a
   * connection quiet for over `heartbeatInterval` pings at once and fails within about
   * `heartbeatTimeout` of its start if the peer is gone. At least `heartbeatInterval`; 0 = the same
   * as `heartbeatInterval` (no idle pacing). Lowered like `heartbeatInterval` to fit the server's
   * idle timeout (the server default, 60 s, leaves it three pings).
   * @default 20000
   */
  idleHeartbeatInterval: number;
  /**
   * Declare the connection dead when nothing (no pong, no data) was received for this long
   * (ms) while calls are in flight, or for this long after a ping while idle: the socket is
   * destroyed and every call pending on it fails at once. 0 disables.
   * @default 10000
   */
  heartbeatTimeout: number;
  /**
   * Unsent bytes allowed to queue on one socket (requests the provider has not read yet). A call
   * or event that would take them past it fails at once with a BackpressureError (nothing sent:
   * retryable on another provider) instead of growing memory; the connection is kept (a provider
   * that stopped reading altogether stops answering pings, and the heartbeat cuts it).
   * @default 67108864 (64 MiB)
   */
  maxWriteBuffer: number;
}

export const DEFAULT_CONNECTION_OPTIONS: Readonly<ConnectionOptions> = Object.freeze({
  connectAttemptTimeout: 3000,
  heartbeatInterval: 3000,
  idleHeartbeatInterval: 20000,
  heartbeatTimeout: 10000,
  maxWriteBuffer: 64 * 1024 * 1024,
});

/** The numeric settings, which have defaults. */
const LIVENESS_OPTION_KEYS = Object.keys(DEFAULT_CONNECTION_OPTIONS) as Exclude<keyof ConnectionOptions, 'tls' | 'authToken'>[];

export const CONNECTION_OPTION_KEYS: readonly (keyof ConnectionOptions)[] = [
  ...LIVENESS_OPTION_KEYS,
  ...CLIENT_SECURITY_OPTION_KEYS,
];

export function resolveConnectionOptions(partial: Partial<ConnectionOptions> = {}, prefix = ''): ConnectionOptions {
  const p = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const o: ConnectionOptions = { ...DEFAULT_CONNECTION_OPTIONS, ...resolveClientSecurityOptions(partial, prefix) };
  for (const key of LIVENESS_OPTION_KEYS) {
    if (partial[key] !== undefined) o[key] = partial[key] as number;
  }
  checkInteger(p('connectAttemptTimeout'), o.connectAttemptTimeout, 1);
  checkInteger(p('heartbeatInterval'), o.heartbeatInterval, 0);
  checkInteger(p('idleHeartbeatInterval'), o.idleHeartbeatInterval, 0);
  checkInteger(p('heartbeatTimeout'), o.heartbeatTimeout, 0);
  if (o.idleHeartbeatInterval > 0 && o.idleHeartbeatInterval < o.heartbeatInterval) {
    throw new InvalidOptionsError(
      p('idleHeartbeatInterval'),
      `must be at least heartbeatInterval (${o.heartbeatInterval} ms), or 0 for the same; got ${o.idleHeartbeatInterval}`,
    );
  }
  checkInteger(p('maxWriteBuffer'), o.maxWriteBuffer, 1024);
  if (o.heartbeatTimeout > 0 && o.heartbeatInterval > 0 && o.heartbeatTimeout <= o.heartbeatInterval) {
    throw new InvalidOptionsError(
      p('heartbeatTimeout'),
      `must exceed heartbeatInterval (${o.heartbeatInterval} ms), or a healthy idle connection would be declared dead`,
    );
  }
  return o;
}
