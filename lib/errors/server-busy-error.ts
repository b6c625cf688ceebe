import { MsRpcError } from './ms-rpc-error.js';

/**
 * The provider refused the call at once because it is at its `maxConcurrentRequests` limit.
 * Nothing ran: a client may safely send the call to another provider.
 */
export class ServerBusyError extends MsRpcError {
  constructor(
    /**
     * The provider, as the client dialled it. Undefined in the refusing server's own error: that
     * one crosses the wire, and the client's error built from it names the address it knows.
     */
    readonly address: string | undefined,
    detail = 'too many requests in flight',
  ) {
    super('ERR_SERVER_BUSY', address === undefined ? `server busy: ${detail}` : `Provider ${address} is busy: ${detail}`);
  }
}

/**
 * A busy server's refusal: the plain object it sends (errors cross the wire as plain objects)
 * or a ServerBusyError built from it; both carry the code.
 */
export function isServerBusyPayload(error: unknown): error is { code: 'ERR_SERVER_BUSY'; message?: string } {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'ERR_SERVER_BUSY';
}
