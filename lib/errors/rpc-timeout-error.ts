import { MsRpcError } from './ms-rpc-error.js';

/** A call got no (complete) answer within its timeout. */
export class RpcTimeoutError extends MsRpcError {
  constructor(
    readonly pattern: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown; address?: string },
  ) {
    super(
      'ERR_RPC_TIMEOUT',
      `Call to "${pattern}" timed out after ${timeoutMs} ms` + (options?.address ? ` (provider ${options.address})` : ''),
      options,
    );
  }
}
