import type { PickContext } from '../balancer/balancer.js';
import type { HashKeyFunction } from '../balancer/balancer-options.js';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Metadata } from '../protocol/message.js';
import { callScopes } from '../propagation/call-scope.js';
import type { CallSettings } from './client-call.js';
import { CALL_OPTION_KEYS, checkCallOptions, MsRpcCallOptions, MsRpcRecord } from './ms-rpc-record.js';

/** The client-wide defaults a call starts from. */
export interface CallDefaults {
  readonly timeout: number;
  readonly waitForReady: boolean;
  /** Retries of calls to idempotent patterns. */
  readonly retries: number;
  readonly idempotentPatterns: ReadonlySet<string>;
  readonly hashKey: HashKeyFunction | undefined;
  /** A custom balancer may route by pattern: every call gets a PickContext (the built-ins only read `hashKey`). */
  readonly contextEveryCall: boolean;
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
  const record = payload instanceof MsRpcRecord ? payload : undefined;
  if (record !== undefined) data = record.data;
  // Most calls carry no per-call options: no layer list to build and walk for them.
  const layers: readonly (Readonly<MsRpcCallOptions> | undefined)[] =
    record === undefined && overrides === undefined ? NO_LAYERS : [record?.options, overrides];
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
  const context: PickContext | undefined =
    hashKey !== undefined ? { hashKey, pattern } : defaults.contextEveryCall ? { pattern } : undefined;
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

const NO_LAYERS: readonly never[] = [];

/** How a timeout from the client's options is described (one string, built per client). */
export function clientTimeoutSource(timeoutMs: number): string {
  return `MsRpcClient timeout ${timeoutMs} ms; set timeout or per call with MsRpcRecordBuilder`;
}

/** Where errors name the options argument of `client.call(pattern, data, options)`. */
const CALL = 'MsRpcClient.call';

/** MsRpcCallInit's keys: a record's options, plus `signal`. */
const CALL_INIT_KEYS: readonly string[] = [...CALL_OPTION_KEYS, 'signal'];

/**
 * Why `client.call(pattern, data, options)` cannot be sent, or undefined: null/undefined pattern
 * or data (as Nest's `send()`), or bad options.
 */
export function invalidCall(pattern: unknown, data: unknown, options: unknown): Error | undefined {
  if (pattern === null || pattern === undefined || data === null || data === undefined) {
    return new InvalidMessageException();
  }
  try {
    if (options !== undefined) checkCallInit(options);
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

/** Validates the options argument of `client.call()` (the same rules as a record's, plus `signal`). */
export function checkCallInit(options: unknown): void {
  checkCallOptions(options, CALL, CALL_INIT_KEYS);
  const { signal } = options as { signal?: unknown };
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionsError(`${CALL}.signal`, 'expected an AbortSignal');
  }
}
