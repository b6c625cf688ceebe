import { MsRpcError } from './ms-rpc-error.js';

/**
 * A value could not be serialized with the codec (a BigInt or a circular structure in JSON, a
 * getter that throws, ...). Nothing was sent; `cause` is the serializer's error. A server whose
 * handler answers such a value replies with this error instead, and counts the call as failed.
 */
export class EncodeError extends MsRpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ENCODE', message, options);
  }
}
