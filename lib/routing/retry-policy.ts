import { BackpressureError } from '../errors/backpressure-error.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { NoHandlerError } from '../errors/no-handler-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
// Matches a typed ServerBusyError and the plain object a busy server sends alike (both carry the code).
import { isServerBusyPayload } from '../errors/server-busy-error.js';

/**
 * Failures where the request may not have run, or where another provider may do better:
 * the connection closed, no provider was picked, the answer could not be decoded, the server
 * said it is busy, a write buffer was full (a provider that reads slower than we send, or whose
 * connection to us is backed up), or a timeout (the caller checks that time remains). A remote handler error
 * (an RpcException answer) is the handler's verdict and is never retried.
 */
export function isRetryable(error: unknown): boolean {
  return (
    error instanceof ConnectionClosedError ||
    error instanceof NoProviderError ||
    error instanceof FrameDecodeError ||
    error instanceof RpcTimeoutError ||
    // A provider without a handler for it ran nothing: another one may have it.
    error instanceof NoHandlerError ||
    error instanceof BackpressureError ||
    isServerBusyPayload(error)
  );
}

/** Whether the outcome says something about the provider's health (for outlier detection). */
export function isProviderFailure(error: unknown): boolean {
  return (
    error instanceof ConnectionClosedError ||
    error instanceof FrameDecodeError ||
    error instanceof RpcTimeoutError ||
    isServerBusyPayload(error)
  );
}
