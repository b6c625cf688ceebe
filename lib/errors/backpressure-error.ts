import { MsRpcError } from './ms-rpc-error.js';

/**
 * Unsent bytes reached a bound, and this call failed instead of queueing more (the connection and
 * the other calls on it go on):
 * - `maxStreamBuffer` (server): a response stream produced faster than its caller reads; the
 *   stream was stopped (its Observable torn down, the handler's signal aborted) and the caller got
 *   this error after the values already sent;
 * - `maxWriteBuffer`: the connection's write queue is full. On the client nothing of the call was
 *   sent (safe to retry on another provider); on the server the answer was dropped.
 */
export class BackpressureError extends MsRpcError {
  constructor(
    /** The option that set the bound. */
    readonly limitName: 'maxStreamBuffer' | 'maxWriteBuffer',
    /** Unsent bytes there would have been with this frame. */
    readonly bytes: number,
    readonly limit: number,
    /** The peer, when known. */
    readonly address?: string,
  ) {
    super(
      'ERR_BACKPRESSURE',
      `${address ? `${address}: ` : ''}${limitName === 'maxStreamBuffer' ? 'stream' : 'connection'} write buffer full: ` +
        `${bytes} bytes unsent (${limitName} ${limit}); the peer reads slower than this side writes`,
    );
  }

  override toJSON(): { name: string; code: 'ERR_BACKPRESSURE'; message: string; limitName: string; bytes: number; limit: number } {
    return { name: this.name, code: 'ERR_BACKPRESSURE', message: this.message, limitName: this.limitName, bytes: this.bytes, limit: this.limit };
  }
}
