import { MsRpcError } from './ms-rpc-error.js';

/**
 * Why a handler's `ctx.signal` aborted (when not for a typed error of its own, such as a
 * BackpressureError for a stream that outran its reader), or why a client call made by a handler
 * was cancelled:
 * - `client-cancel`: the caller gave up (unsubscribed, aborted, or timed out) and sent a cancel;
 * - `connection-lost`: the caller's connection closed while the handler ran;
 * - `server-shutdown`: the server's `close()` ran out of `shutdownTimeout` with the handler still running;
 * - `deadline-exceeded`: the time budget the caller sent with the request ran out;
 * - `parent-cancelled`: on a client call made while a handler ran (it inherited the handler's
 *   deadline and cancellation): that handler was told to stop; the `cause` says why.
 */
export type CancelKind = 'client-cancel' | 'connection-lost' | 'server-shutdown' | 'deadline-exceeded' | 'parent-cancelled';

/**
 * The reason a server handler's `AbortSignal` (`MsRpcContext.signal`) carries: nobody waits for
 * its answer any more. A cooperative handler stops early (`signal.throwIfAborted()`, or passing
 * the signal on to fetch, timers, database drivers); whatever it answers afterwards is dropped.
 * Also the error of a client call cancelled because the handler that made it was (`parent-cancelled`).
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
