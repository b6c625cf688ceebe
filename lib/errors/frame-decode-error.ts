import { MsRpcError } from './ms-rpc-error.js';

/** Bytes from a peer do not form a valid frame or body (bad magic, unknown type, corrupt payload, ...). */
export class FrameDecodeError extends MsRpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FRAME_DECODE', message, options);
  }
}
