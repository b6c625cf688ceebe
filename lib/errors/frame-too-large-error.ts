import { MsRpcError } from './ms-rpc-error.js';

/** A frame (or an inflated body) exceeds the configured limit; raised before the bytes are buffered. */
export class FrameTooLargeError extends MsRpcError {
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'Frame',
  ) {
    super('ERR_FRAME_TOO_LARGE', `${what} of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}
