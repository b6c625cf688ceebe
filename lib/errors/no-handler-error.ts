import { MsRpcError } from './ms-rpc-error.js';

/**
 * Nest's text for a request no handler matches (`NO_MESSAGE_HANDLER` of `@nestjs/microservices`),
 * kept here so that the errors stay free of Nest imports; a test holds it equal to Nest's.
 */
export const NO_MESSAGE_HANDLER_TEXT = 'There is no matching message handler defined in the remote service.';

/**
 * No provider of the service serves the pattern: the same error whether the client learned it from
 * the registry's metadata (Nacos mode), from the provider's Hello (direct mode) or from a provider's
 * reply. Nothing ran anywhere. The message starts with Nest's standard text.
 */
export class NoHandlerError extends MsRpcError {
  constructor(
    readonly pattern: string,
    readonly service: string | undefined,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_NO_HANDLER',
      `${NO_MESSAGE_HANDLER_TEXT} Pattern: ${JSON.stringify(pattern)}` +
        (service !== undefined ? ` (service "${service}"${detail ? `: ${detail}` : ''})` : detail ? ` (${detail})` : ''),
      options,
    );
  }
}

/**
 * A provider's "no handler" answer: the plain object it sends (with the code since this version; an
 * older server sends Nest's text only), or a NoHandlerError.
 */
export function isNoHandlerPayload(error: unknown): error is { code?: string; message?: string } {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown };
  return e.code === 'ERR_NO_HANDLER' || (typeof e.message === 'string' && e.message.startsWith(NO_MESSAGE_HANDLER_TEXT));
}
