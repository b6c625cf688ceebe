import { MsRpcError } from './ms-rpc-error.js';

/**
 * A value could not be serialized with the codec (a BigInt or a circular structure in JSON, a
 * function, a getter that throws, ...). Nothing was sent; `cause` is the serializer's error.
 * A server whose handler answers such a value replies with this error instead.
 */
export class EncodeError extends MsRpcError {
  constructor(what: string, options?: { cause?: unknown }) {
    const cause = options?.cause as { message?: unknown } | undefined;
    super('ERR_ENCODE', `${what} cannot be encoded${typeof cause?.message === 'string' ? `: ${cause.message}` : ''}`, options);
  }
}
