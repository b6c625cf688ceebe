import { MsRpcError } from './ms-rpc-error.js';

/**
 * The provider refused the call at once because it is at its `maxConcurrentRequests` limit.
 * Nothing ran: a client may safely send the call to another provider.
 */
export class ServerBusyError extends MsRpcError {
  constructor(
    readonly address: string,
    detail = 'too many requests in flight',
  ) {
    super('ERR_SERVER_BUSY', `Provider ${address} is busy: ${detail}`);
  }
}

/** The plain error object a busy server sends (errors cross the wire as plain objects). */
export function isServerBusyPayload(error: unknown): error is { code: 'ERR_SERVER_BUSY'; message?: string } {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'ERR_SERVER_BUSY';
}
