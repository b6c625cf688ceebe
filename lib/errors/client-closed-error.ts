import { MsRpcError } from './ms-rpc-error.js';

/** The client was closed while the call was waiting, or a call was made after close(). */
export class ClientClosedError extends MsRpcError {
  constructor(detail = 'client is closed') {
    super('ERR_CLIENT_CLOSED', `MsRpcClient: ${detail}`);
  }
}
