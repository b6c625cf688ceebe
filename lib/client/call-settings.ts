import type { PickContext } from '../balancer/balancer.js';
import type { HashKeyFunction } from '../balancer/balancer-options.js';
import { checkInteger, checkKnownKeys, checkString } from '../common/option-checks.js';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Metadata } from '../protocol/message.js';
import { callScopes } from '../propagation/call-scope.js';
import type { CallSettings } from './client-call.js';
import { MsRpcCallOptions, MsRpcRecord } from './ms-rpc-record.js';

/** The client-wide defaults a call starts from. */
export interface CallDefaults {
  readonly timeout: number;
  readonly waitForReady: boolean;
  /** Retries of calls to idempotent patterns. */
  readonly retries: number;
  readonly idempotentPatterns: ReadonlySet<string>;
  readonly hashKey: HashKeyFunction | undefined;
  /** Calls made in a handler inherit its deadline and cancellation. */
  readonly inheritDeadline: boolean;
}

/**
 * Resolves what one call does: the client's defaults, then an {@link MsRpcRecord} payload's
 * options, then `overrides` (the options argument of `client.call()`), each over the previous.
 * `rawPattern` is the pattern as the caller gave it (what a `hashKey` function receives).
 */
export function resolveCallSettings(
  defaults: CallDefaults,
  pattern: string,
  rawPattern: unknown,
  payload: unknown,
  packetMetadata: Metadata | undefined,
  overrides?: Readonly<MsRpcCallOptions>,
): CallSettings {
  let data = payload;
  let metadata = packetMetadata;
  let timeoutMs = defaults.timeout;
  let timeoutSource: string | undefined;
  let waitForReady = defaults.waitForReady;
  let inheritDeadline = defaults.inheritDeadline;
  let retries = defaults.idempotentPatterns.has(pattern) ? defaults.retries : 0;
  let hashKey: string | undefined;
  let hasHashKey = false;
  const layers: (Readonly<MsRpcCallOptions> | undefined)[] = [
    payload instanceof MsRpcRecord ? (payload.options as MsRpcCallOptions) : undefined,
    overrides,
  ];
  if (payload instanceof MsRpcRecord) data = payload.data;
  for (let i = 0; i < layers.length; i++) {
    const o = layers[i];
    if (!o) continue;
    if (o.timeout !== undefined) {
      timeoutMs = o.timeout;
      timeoutSource = i === 0 ? 'set per call with MsRpcRecordBuilder.setTimeout()' : 'set in the options of client.call()';
    }
    if (o.waitForReady !== undefined) waitForReady = o.waitForReady;
    if (o.inheritDeadline !== undefined) inheritDeadline = o.inheritDeadline;
    // Handlers enter their scope once some call wants to inherit (see CallScopes).
    if (o.inheritDeadline === true) callScopes.want();
    if (o.retries !== undefined) retries = o.retries;
    if (o.metadata) metadata = { ...metadata, ...o.metadata };
    if (o.hashKey !== undefined) {
      hashKey = o.hashKey;
      hasHashKey = true;
    }
  }
  if (!hasHashKey && defaults.hashKey) hashKey = defaults.hashKey(rawPattern, data);
  const context: PickContext | undefined = hashKey !== undefined ? { hashKey, pattern } : undefined;
  return {
    pattern,
    data,
    metadata,
    timeoutMs,
    timeoutSource: timeoutSource === undefined ? undefined : `per-call timeout ${timeoutMs} ms ${timeoutSource}`,
    retries,
    context,
    waitForReady,
    inheritDeadline,
  };
}

/** How a timeout from the client's options is described (one string, built per client). */
export function clientTimeoutSource(timeoutMs: number): string {
  return `MsRpcClient timeout ${timeoutMs} ms; set timeout or per call with MsRpcRecordBuilder`;
}

const CALL_OPTION_KEYS = ['timeout', 'retries', 'hashKey', 'metadata', 'signal', 'waitForReady', 'inheritDeadline'];

/**
 * Why `client.call(pattern, data, options)` cannot be sent, or undefined: null/undefined pattern
 * or data (as Nest's `send()`), or bad options.
 */
export function invalidCall(pattern: unknown, data: unknown, options: unknown): Error | undefined {
  if (pattern === null || pattern === undefined || data === null || data === undefined) {
    return new InvalidMessageException();
  }
  try {
    if (options !== undefined) checkCallOptions(options);
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

/** Validates the options argument of `client.call()` (the same rules as MsRpcRecordBuilder). */
export function checkCallOptions(options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionsError('call.options', 'expected an object');
  }
  checkKnownKeys('call', options, CALL_OPTION_KEYS);
  const o = options as Record<string, unknown>;
  if (o.timeout !== undefined) checkInteger('call.timeout', o.timeout, 1);
  if (o.retries !== undefined) checkInteger('call.retries', o.retries, 0, 16);
  if (o.hashKey !== undefined) checkString('call.hashKey', o.hashKey);
  if (o.metadata !== undefined) {
    if (o.metadata === null || typeof o.metadata !== 'object') {
      throw new InvalidOptionsError('call.metadata', 'expected an object of strings');
    }
    for (const [k, v] of Object.entries(o.metadata)) checkString(`call.metadata.${k}`, v, true);
  }
  if (o.waitForReady !== undefined && typeof o.waitForReady !== 'boolean') {
    throw new InvalidOptionsError('call.waitForReady', 'expected a boolean');
  }
  if (o.inheritDeadline !== undefined && typeof o.inheritDeadline !== 'boolean') {
    throw new InvalidOptionsError('call.inheritDeadline', 'expected a boolean');
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new InvalidOptionsError('call.signal', 'expected an AbortSignal');
  }
}
