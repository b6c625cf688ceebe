import { MsRpcError } from './ms-rpc-error.js';

/**
 * The server refused this client's credentials: its Hello carried no token, or one the server
 * does not accept, or it did not say Hello within the server's handshake timeout. The server
 * dispatched nothing and closed the connection. Retrying with the same token cannot succeed, so
 * calls fail with this at once instead of waiting for their timeout.
 */
export class AuthError extends MsRpcError {
  constructor(
    detail: string,
    options?: { cause?: unknown; address?: string },
  ) {
    super('ERR_AUTH', `${options?.address ? `${options.address}: ` : ''}authentication failed: ${detail}`, options);
    this.address = options?.address;
  }

  /** The provider that refused, on the client side. */
  readonly address?: string;
}

/** The plain object a server sends (errors cross the wire as plain objects) or an AuthError: both carry the code. */
export function isAuthErrorPayload(error: unknown): error is { code: 'ERR_AUTH'; message?: string } {
  return error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'ERR_AUTH';
}
