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

  /** With the sizes: a client rebuilds the typed error from a server's reply (see remote-error.ts). */
  override toJSON(): { name: string; code: 'ERR_FRAME_TOO_LARGE'; message: string; size: number; limit: number } {
    return { name: this.name, code: 'ERR_FRAME_TOO_LARGE', message: this.message, size: this.size, limit: this.limit };
  }
}
