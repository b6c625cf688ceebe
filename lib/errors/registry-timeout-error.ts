import { RegistryError } from './registry-error.js';

/**
 * A registry call got no answer in time (`registryTimeout`): Nacos down with connections that
 * hang, or a server that accepts and never answers. The call itself may still settle later; the
 * caller stopped waiting for it. A RegistryError (code `ERR_REGISTRY`), so handlers of registry
 * failures see it too.
 */
export class RegistryTimeoutError extends RegistryError {
  constructor(
    /** What was asked, e.g. `deregister svc@10.0.0.5:4000 in nacos`. */
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`Registry call timed out after ${timeoutMs} ms: ${operation}`);
  }
}
