import { MsRpcError } from './ms-rpc-error.js';

/** Why one provider could not take a call: its address and the failure of its latest connect attempt. */
export interface ProviderFailure {
  readonly address: string;
  readonly error: Error;
}

/**
 * No provider is (or became) available for a service or pattern. When the providers are known but
 * their latest connect attempts failed, the message names each with its failure
 * (`127.0.0.1:4100: connect ECONNREFUSED 127.0.0.1:4100`), `failures` holds them all, and `cause`
 * is the first one's error, so the cause chain reaches the socket error and its `code`.
 */
export class NoProviderError extends MsRpcError {
  readonly pattern?: string;
  /** The known providers' latest connect failures (empty when none is known, or none failed). */
  readonly failures: readonly ProviderFailure[];
  /**
   * Set when the caller waited for a ready provider and its time ran out (the wait's length in ms);
   * undefined when the call failed fast.
   */
  readonly waitedMs?: number;

  constructor(
    readonly service: string,
    detail?: string,
    options?: { cause?: unknown; pattern?: string; failures?: readonly ProviderFailure[]; waitedMs?: number },
  ) {
    const failures = options?.failures ?? [];
    const listed = failures.map((f) => `${f.address}: ${f.error.message}`).join('; ');
    super(
      'ERR_NO_PROVIDER',
      `No provider available for service "${service}"` +
        (options?.pattern !== undefined ? ` and pattern "${options.pattern}"` : '') +
        (detail ? `: ${detail}` : '') +
        (listed ? ` (${listed})` : ''),
      { cause: options?.cause ?? failures[0]?.error },
    );
    this.pattern = options?.pattern;
    this.failures = failures;
    this.waitedMs = options?.waitedMs;
  }
}
