import { MsRpcError } from './ms-rpc-error.js';

/** The service registry (Nacos) refused or failed an operation. */
export class RegistryError extends MsRpcError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRY', message, options);
  }
}
