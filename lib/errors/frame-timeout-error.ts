import { MsRpcError } from './ms-rpc-error.js';

/**
 * A frame started arriving but was not complete within the server's `frameTimeout` (checked as
 * bytes arrive), or the peer went silent mid-frame for `idleTimeout`: it holds the connection by
 * dribbling bytes (slowloris) or by never finishing the frame, or its link is far too slow for
 * the frame it sends. The server closed the connection; nothing of that frame was dispatched.
 */
export class FrameTimeoutError extends MsRpcError {
  constructor(
    readonly address: string,
    /** How long the incomplete frame had been arriving, in ms. */
    readonly elapsedMs: number,
    readonly limitMs: number,
    /** Bytes of the incomplete frame held when the connection was cut. */
    readonly bufferedBytes: number,
  ) {
    super(
      'ERR_FRAME_TIMEOUT',
      `${address}: frame still incomplete after ${elapsedMs} ms (limit ${limitMs} ms; ${bufferedBytes} bytes of it received)`,
    );
  }
}
