import { MsRpcError } from './ms-rpc-error.js';

/** The connection a call was pending on closed (peer gone, heartbeat lost, go-away, local close). */
export class ConnectionClosedError extends MsRpcError {
  constructor(
    readonly address: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_CONNECTION_CLOSED', `Connection to ${address} closed: ${reason}`, options);
  }
}
