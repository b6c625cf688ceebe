import { checkInteger } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/** Per-connection liveness settings of the client side. */
export interface ConnectionOptions {
  /**
   * Time allowed for one connect attempt: TCP connect plus the server's Hello. A SYN that is
   * never answered, or a peer that accepts but never speaks, fails here instead of hanging.
   * @default 3000
   */
  connectAttemptTimeout: number;
  /**
   * Send a ping when nothing was written, or nothing was received, for this long (ms). 0 disables pings.
   * Lowered automatically when the server announces an idle timeout it would otherwise hit.
   * @default 3000
   */
  heartbeatInterval: number;
  /**
   * Declare the connection dead when nothing (no pong, no data) was received for this long
   * (ms): the socket is destroyed and every call pending on it fails at once. 0 disables.
   * @default 10000
   */
  heartbeatTimeout: number;
  /**
   * Unsent bytes allowed to queue on one socket before it is cut as stalled.
   * @default 67108864 (64 MiB)
   */
  maxWriteBuffer: number;
}

export const DEFAULT_CONNECTION_OPTIONS: Readonly<ConnectionOptions> = Object.freeze({
  connectAttemptTimeout: 3000,
  heartbeatInterval: 3000,
  heartbeatTimeout: 10000,
  maxWriteBuffer: 64 * 1024 * 1024,
});

export const CONNECTION_OPTION_KEYS = Object.keys(DEFAULT_CONNECTION_OPTIONS) as (keyof ConnectionOptions)[];

export function resolveConnectionOptions(partial: Partial<ConnectionOptions> = {}, prefix = ''): ConnectionOptions {
  const p = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const o: ConnectionOptions = { ...DEFAULT_CONNECTION_OPTIONS };
  for (const key of CONNECTION_OPTION_KEYS) {
    if (partial[key] !== undefined) o[key] = partial[key] as number;
  }
  checkInteger(p('connectAttemptTimeout'), o.connectAttemptTimeout, 1);
  checkInteger(p('heartbeatInterval'), o.heartbeatInterval, 0);
  checkInteger(p('heartbeatTimeout'), o.heartbeatTimeout, 0);
  checkInteger(p('maxWriteBuffer'), o.maxWriteBuffer, 1024);
  if (o.heartbeatTimeout > 0 && o.heartbeatInterval > 0 && o.heartbeatTimeout <= o.heartbeatInterval) {
    throw new InvalidOptionsError(
      p('heartbeatTimeout'),
      `must exceed heartbeatInterval (${o.heartbeatInterval} ms), or a healthy idle connection would be declared dead`,
    );
  }
  return o;
}
