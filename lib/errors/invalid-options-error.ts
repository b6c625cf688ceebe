import { MsRpcError } from './ms-rpc-error.js';

/** An option failed validation at construction time; `field` names the offending option path. */
export class InvalidOptionsError extends MsRpcError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super('ERR_INVALID_OPTIONS', `Invalid option "${field}": ${reason}`);
  }
}
