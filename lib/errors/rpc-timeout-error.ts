import { MsRpcError } from './ms-rpc-error.js';

/**
 * A call got no (complete) answer within its timeout. The message says which provider had it (if
 * one was reached), why it could not be sent when no provider became ready (the `cause` then is
 * a NoProviderError naming each provider's last failure), and which setting the timeout came from.
 */
export class RpcTimeoutError extends MsRpcError {
  constructor(
    readonly pattern: string,
    readonly timeoutMs: number,
    options?: {
      cause?: unknown;
      address?: string;
      /** Why the call could not complete, e.g. why no provider was ready. */
      reason?: string;
      /** Where the timeout came from, e.g. `MsRpcClient timeout 3000 ms; set timeout or per call with MsRpcRecordBuilder`. */
      source?: string;
    },
  ) {
    super(
      'ERR_RPC_TIMEOUT',
      `Call to "${pattern}" timed out after ${timeoutMs} ms` +
        (options?.address ? ` (provider ${options.address})` : '') +
        (options?.reason ? `: ${options.reason}` : '') +
        (options?.source ? ` [${options.source}]` : ''),
      options,
    );
  }
}
