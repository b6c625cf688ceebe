import { MsRpcError } from './ms-rpc-error.js';

/** No provider is (or became) available for a service or pattern. */
export class NoProviderError extends MsRpcError {
  constructor(
    readonly service: string,
    detail?: string,
    options?: { cause?: unknown; pattern?: string },
  ) {
    super(
      'ERR_NO_PROVIDER',
      `No provider available for service "${service}"` +
        (options?.pattern !== undefined ? ` and pattern "${options.pattern}"` : '') +
        (detail ? `: ${detail}` : ''),
      options,
    );
    this.pattern = options?.pattern;
  }

  readonly pattern?: string;
}
