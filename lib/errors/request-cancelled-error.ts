import { MsRpcError } from './ms-rpc-error.js';

/**
 * Why a handler's `ctx.signal` aborted (when not for a typed error of its own, such as a
 * BackpressureError for a stream that outran its reader):
 * - `client-cancel`: the caller gave up (unsubscribed, aborted, or timed out) and sent a cancel;
 * - `connection-lost`: the caller's connection closed while the handler ran;
 * - `server-shutdown`: the server's `close()` ran out of `shutdownTimeout` with the handler still running.
 */
export type CancelKind = 'client-cancel' | 'connection-lost' | 'server-shutdown';

/**
 * The reason a server handler's `AbortSignal` (`MsRpcContext.signal`) carries: nobody waits for
 * its answer any more. A cooperative handler stops early (`signal.throwIfAborted()`, or passing
 * the signal on to fetch, timers, database drivers); whatever it answers afterwards is dropped.
 */
export class RequestCancelledError extends MsRpcError {
  constructor(
    readonly kind: CancelKind,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_CANCELLED', `Request cancelled (${kind}): ${detail}`, options);
  }
}
