import { MsRpcError } from './ms-rpc-error.js';

/**
 * A peer sent a well-formed frame the protocol does not allow from its side, e.g. a client
 * sending Response, End, Error or GoAway frames, which only servers send. The connection is
 * closed: a peer that confuses the directions cannot be trusted with anything it sends next.
 */
export class ProtocolError extends MsRpcError {
  constructor(
    readonly address: string,
    detail: string,
  ) {
    super('ERR_PROTOCOL', `${address}: protocol violation: ${detail}`);
  }
}
