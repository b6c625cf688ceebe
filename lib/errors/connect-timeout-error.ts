import { MsRpcError } from './ms-rpc-error.js';

/** A TCP connect attempt did not complete in time (e.g. a SYN that is never answered). */
export class ConnectTimeoutError extends MsRpcError {
  constructor(
    readonly address: string,
    readonly timeoutMs: number,
  ) {
    super('ERR_CONNECT_TIMEOUT', `Connecting to ${address} timed out after ${timeoutMs} ms`);
  }
}
