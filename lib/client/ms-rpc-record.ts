import { checkBoolean, checkInteger, checkOptionsObject, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Metadata } from '../protocol/message.js';

/** Per-call options carried by an {@link MsRpcRecord}. Unset fields use the client's options. */
export interface MsRpcCallOptions {
  /** Timeout of this call in ms. */
  timeout?: number;
  /** Key for the consistent-hash balancer: calls with the same key go to the same provider. */
  hashKey?: string;
  /** Extra attempts on other providers when the call fails (marks the call idempotent). */
  retries?: number;
  /** Packet metadata for this call (merged over what a dispatch hook sets). */
  metadata?: Metadata;
  /**
   * Wait for a provider to become ready, through failed connect attempts, for up to the call's
   * timeout, instead of failing fast once every provider's latest attempt failed (gRPC's
   * `waitForReady`). Overrides the client's `waitForReady`.
   */
  waitForReady?: boolean;
  /**
   * Inherit the deadline and cancellation of the server handler this call is made in (see the
   * client's `inheritDeadline`, which it overrides). `false`: the call keeps its own timeout and
   * outlives the handler's cancellation (e.g. work that must finish whatever the caller does).
   */
  inheritDeadline?: boolean;
}

/** The keys of {@link MsRpcCallOptions}. */
export const CALL_OPTION_KEYS: readonly string[] = ['timeout', 'hashKey', 'retries', 'metadata', 'waitForReady', 'inheritDeadline'];

/** Where errors name a record's options (the builder's setters and the constructor). */
const RECORD = 'MsRpcRecord';

/**
 * Validates per-call options (unknown keys included), naming fields `${prefix}.timeout`...: a
 * record's (`MsRpcRecord`) and `client.call()`'s (`MsRpcClient.call`, which adds `signal`).
 */
export function checkCallOptions(options: unknown, prefix: string, keys: readonly string[] = CALL_OPTION_KEYS): void {
  const o = checkOptionsObject(prefix, options, keys);
  if (o.timeout !== undefined) checkInteger(`${prefix}.timeout`, o.timeout, 1);
  if (o.retries !== undefined) checkInteger(`${prefix}.retries`, o.retries, 0, 16);
  if (o.hashKey !== undefined) checkString(`${prefix}.hashKey`, o.hashKey);
  if (o.metadata !== undefined) checkMetadata(`${prefix}.metadata`, o.metadata);
  if (o.waitForReady !== undefined) checkBoolean(`${prefix}.waitForReady`, o.waitForReady);
  if (o.inheritDeadline !== undefined) checkBoolean(`${prefix}.inheritDeadline`, o.inheritDeadline);
}

function checkMetadata(field: string, metadata: unknown): void {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new InvalidOptionsError(field, 'expected an object of strings');
  }
  for (const [k, v] of Object.entries(metadata)) checkString(`${field}.${k}`, v, true);
}

/**
 * A payload with per-call options, the way Nest's NATS/MQTT/RMQ records work:
 * `client.send('pattern', new MsRpcRecordBuilder(data).setTimeout(500).build())`.
 * The handler receives `data` only.
 */
export class MsRpcRecord<TData = unknown> {
  constructor(
    readonly data: TData,
    readonly options: Readonly<MsRpcCallOptions> = {},
  ) {
    checkCallOptions(options, RECORD);
  }
}

export class MsRpcRecordBuilder<TData = unknown> {
  private readonly options: MsRpcCallOptions = {};

  constructor(private data?: TData) {}

  setData(data: TData): this {
    this.data = data;
    return this;
  }

  setTimeout(ms: number): this {
    this.options.timeout = checkInteger(`${RECORD}.timeout`, ms, 1);
    return this;
  }

  setHashKey(key: string | number): this {
    this.options.hashKey = checkString(`${RECORD}.hashKey`, String(key));
    return this;
  }

  setRetries(retries: number): this {
    this.options.retries = checkInteger(`${RECORD}.retries`, retries, 0, 16);
    return this;
  }

  /** See {@link MsRpcCallOptions.waitForReady}. */
  setWaitForReady(enabled = true): this {
    this.options.waitForReady = checkBoolean(`${RECORD}.waitForReady`, enabled);
    return this;
  }

  /** See {@link MsRpcCallOptions.inheritDeadline}. */
  setInheritDeadline(enabled = true): this {
    this.options.inheritDeadline = checkBoolean(`${RECORD}.inheritDeadline`, enabled);
    return this;
  }

  setMetadata(metadata: Metadata): this {
    checkMetadata(`${RECORD}.metadata`, metadata);
    this.options.metadata = { ...this.options.metadata, ...metadata };
    return this;
  }

  build(): MsRpcRecord<TData> {
    if (this.data === undefined || this.data === null) {
      throw new InvalidOptionsError(`${RECORD}.data`, 'a record needs data (Nest rejects null/undefined payloads)');
    }
    return new MsRpcRecord(this.data, { ...this.options });
  }
}
