import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  checkBoolean,
  checkInteger,
  checkLogger,
  checkOptionsObject,
  checkRegistry,
  checkString,
  definedOptions,
} from '../common/option-checks.js';
import { MsRpcLogger } from '../common/logger.js';
import {
  CONNECTION_OPTION_KEYS,
  ConnectionOptions,
  resolveConnectionOptions,
} from '../connection/connection-options.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { BackoffOptions, RetryStrategy, resolveBackoffOptions } from '../liveness/backoff-options.js';
import { MAX_TIMER_DELAY_MS } from '../liveness/timer-delay.js';
import { DEFAULT_REGISTRY_TIMEOUT } from '../registry/registry-timeout.js';
import { PROTOCOL_OPTION_KEYS, ProtocolOptions, resolveProtocolOptions } from '../protocol/protocol-options.js';
import type { Registry } from '../registry/registry.js';
import { parseStaticAddresses } from '../registry/static-registry.js';
import { BalancerOptions, resolveBalancerOptions } from '../balancer/balancer-options.js';
import {
  OutlierDetectionOptions,
  RetryBudgetOptions,
  resolveOutlierDetectionOptions,
  resolveRetryBudgetOptions,
} from '../routing/routing-options.js';

/** A static provider address: `'host:port'` or an object. */
export type ProviderAddress = string | { host: string; port: number; weight?: number; metadata?: Record<string, string> };

/**
 * Options of {@link MsRpcClient}. Connection liveness fields are documented in
 * ConnectionOptions, wire fields (codec, limits) in ProtocolOptions.
 */
export interface MsRpcClientOptions extends ProtocolOptions, ConnectionOptions {
  /**
   * Logical service name: what discovery looks up (required with a `registry`) and what errors
   * and metrics name.
   * @default 'ms-rpc' (direct mode only: with a registry it must be given)
   */
  service: string;
  /**
   * Direct mode: static provider addresses (no registry needed). Exactly one of `providers`
   * and `registry` must be given.
   * @default undefined
   */
  providers?: ProviderAddress[];
  /**
   * Discovery mode: where providers come from (e.g. a NacosRegistry).
   * @default undefined
   */
  registry?: Registry;
  /**
   * How long (ms) each registry call made at startup and on close() is waited for: the first
   * subscription (past it the client starts from its snapshot, and takes the registry's answer
   * when it comes), a re-resolution, and unsubscribing on close(). Unused in direct mode.
   * @default 3000
   */
  registryTimeout: number;
  /**
   * Service version: discovery looks up `service:version`, matching providers registered with
   * the same `version`.
   * @default undefined
   */
  version?: string;
  /**
   * Folder where the provider list from the registry is persisted, so a consumer started
   * during a registry outage still finds its providers. `false` disables it. Unused in direct mode.
   * @default ~/.nestjs-ms-rpc/snapshots
   */
  snapshotDir: string | false;
  /**
   * Registry group of the service.
   * @default undefined (the registry's own default group)
   */
  group?: string;
  /**
   * Per-call timeout in ms: the call fails with RpcTimeoutError when no final answer came in
   * time (for streams, the whole stream). Includes waiting for a provider.
   * @default 3000
   */
  timeout: number;
  /**
   * A call made while a server handler runs (in its async context: the handler's own code, what it
   * awaits, the stream it returns) inherits that handler's deadline and cancellation: its timeout is
   * at most what is left of the budget the handler's caller sent, minus `deadlineMargin` (a call
   * whose budget is spent fails at once with an RpcTimeoutError, sending nothing), and it is
   * cancelled with a RequestCancelledError ('parent-cancelled') when the handler is told to stop
   * (its caller cancelled or went away, its deadline passed). `false` turns this off for this
   * client; per call: `MsRpcRecordBuilder.setInheritDeadline(false)` or `{ inheritDeadline: false }`.
   * Handlers run in a scope (an AsyncLocalStorage: about 1 us per request of a Nest server on
   * Node 20) only in a process where a client inherits; a process whose clients all set `false`
   * pays nothing, and a per-call `true` there takes effect from the next handler on.
   * @default true
   */
  inheritDeadline: boolean;
  /**
   * Ms taken off an inherited budget, so that the handler still has time to answer its caller
   * when the call it made times out (and its caller learns why, rather than timing out itself).
   * @default 5
   */
  deadlineMargin: number;
  /**
   * OpenTelemetry spans: a CLIENT span per call and a PRODUCER span per event (RPC semantic
   * conventions, `rpc.system` 'nestjs-ms-rpc'), children of the active context, their W3C trace
   * context sent in the packet metadata (`traceparent`, `tracestate`) so that the server's span is
   * their child. Takes effect only where `@opentelemetry/api` is installed (an optional peer
   * dependency, loaded when the client is built; `connect()` waits for it) and an SDK is registered
   * (e.g. NodeSDK); until then a call costs one check. `false` never loads the API. See
   * docs/observability-tracing.md.
   * @default true
   */
  tracing: boolean;
  /**
   * How long `connect()` waits for a first ready provider before rejecting with NoProviderError.
   * @default 10000
   */
  connectTimeout: number;
  /**
   * gRPC's wait-for-ready. `false`: a call, event or `connect()` waits while a connect attempt
   * that may serve it is under way, and fails fast with a NoProviderError naming each provider's
   * failure (`127.0.0.1:4100: connect ECONNREFUSED ...`) once the latest attempt of every known
   * provider that serves it failed (its first call tries each of them; see docs/lazy-connections.md). `true`: it waits through failures for up to its timeout, hurrying reconnects; a call
   * that times out then says why no provider was ready. Per call: `MsRpcRecordBuilder.setWaitForReady()`.
   * @default false
   */
  waitForReady: boolean;
  /**
   * Long-lived connections kept per provider address, once the client connects to it: on the
   * first call of a pattern the provider serves, or on `connect()` (docs/lazy-connections.md).
   * @default 1
   */
  connectionsPerProvider: number;
  /**
   * Reconnect backoff (start 100 ms, factor 2, cap 30 s, ±20 % jitter, 12 attempts, then eviction:
   * out of load balancing, probed at the cap while discovery lists the provider).
   * @default DEFAULT_BACKOFF_OPTIONS
   */
  backoff: Partial<BackoffOptions>;
  /**
   * Overrides the backoff: `(attempt) => delayMs | null` (null evicts: probes at `backoff.maxDelay` from then on), as in ioredis.
   * @default undefined
   */
  retryStrategy?: RetryStrategy;
  /**
   * Load balancing: strategy ('random' | 'round-robin' | 'least-active' | 'consistent-hash' or a
   * Balancer instance), warm-up of newly started providers, consistent-hash settings.
   * @default DEFAULT_BALANCER_OPTIONS (weighted random with a 10-minute warm-up)
   */
  balancer: Partial<BalancerOptions>;
  /**
   * Extra attempts, on another provider when there is one, for calls of `idempotentPatterns` that
   * fail at the connection level (closed, server busy, undecodable answer, no provider) or time
   * out with time left. Never after a remote handler error, never once a stream delivered a value;
   * the whole call stays within its timeout. A record's `setRetries(n)` overrides it per call.
   * @default 0 (fail fast)
   */
  retries: number;
  /**
   * Patterns safe to run twice: only these use `retries`.
   * @default [] (none)
   */
  idempotentPatterns: string[];
  /**
   * Caps retries to a share of the calls (plus a minimum per second), so failover cannot turn into a retry storm.
   * @default DEFAULT_RETRY_BUDGET_OPTIONS (20 % of calls over 10 s, at least 10 retries/s)
   */
  retryBudget: Partial<RetryBudgetOptions>;
  /**
   * Outlier ejection: providers failing far more than the others are skipped for a while; `false` turns it off.
   * @default DEFAULT_OUTLIER_DETECTION_OPTIONS
   */
  outlierDetection: Partial<OutlierDetectionOptions> | false;
  /**
   * Where the transport logs; Nest's Logger fits.
   * @default a Nest Logger with context 'MsRpcClient'
   */
  logger?: MsRpcLogger;
}

export type ResolvedClientOptions = MsRpcClientOptions & {
  backoff: BackoffOptions;
  balancer: BalancerOptions;
  retryBudget: RetryBudgetOptions;
  outlierDetection: OutlierDetectionOptions | false;
};

export const CLIENT_OPTION_KEYS: readonly string[] = [
  'service',
  'providers',
  'registry',
  'registryTimeout',
  'group',
  'version',
  'snapshotDir',
  'timeout',
  'inheritDeadline',
  'deadlineMargin',
  'tracing',
  'connectTimeout',
  'waitForReady',
  'connectionsPerProvider',
  'backoff',
  'retryStrategy',
  'balancer',
  'retries',
  'idempotentPatterns',
  'retryBudget',
  'outlierDetection',
  'logger',
  ...PROTOCOL_OPTION_KEYS,
  ...CONNECTION_OPTION_KEYS,
];

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  service: 'ms-rpc',
  snapshotDir: join(homedir(), '.nestjs-ms-rpc', 'snapshots') as string | false,
  registryTimeout: DEFAULT_REGISTRY_TIMEOUT,
  timeout: 3000,
  inheritDeadline: true,
  deadlineMargin: 5,
  tracing: true,
  connectTimeout: 10000,
  waitForReady: false,
  connectionsPerProvider: 1,
  retries: 0,
  idempotentPatterns: [] as string[],
});

/**
 * Fills defaults and validates once, nested options included; throws InvalidOptionsError naming
 * the field as `${prefix}.path` (`MsRpcClient.balancer.warmupMs`, `MsRpcClient.providers[0]`).
 * Needs exactly one of `providers` and `registry`, and `service` with a registry.
 */
export function resolveClientOptions(partial: Partial<MsRpcClientOptions> = {}, prefix = 'MsRpcClient'): ResolvedClientOptions {
  const o = resolveClientFields(partial, prefix);
  const hasProviders = o.providers !== undefined;
  if (hasProviders === (o.registry !== undefined)) {
    throw new InvalidOptionsError(
      `${prefix}.${hasProviders ? 'registry' : 'providers'}`,
      'give exactly one of `providers` (direct mode) and `registry` (discovery)',
    );
  }
  if (hasProviders && o.providers!.length === 0) {
    throw new InvalidOptionsError(`${prefix}.providers`, 'expected a non-empty array of addresses');
  }
  // A forgotten service would look up the default name in the registry and find nothing.
  if (o.registry !== undefined && partial.service === undefined) {
    throw new InvalidOptionsError(`${prefix}.service`, 'required with a registry: it is the name discovery looks up');
  }
  return o;
}

/**
 * Validates the fields that are given (none is required): what {@link resolveClientOptions} does
 * before its requirements. MsRpcModule checks its `clientDefaults` and each registration with it,
 * at startup and under their own path.
 */
export function resolveClientFields(partial: Partial<MsRpcClientOptions>, prefix: string): ResolvedClientOptions {
  const defined = definedOptions(checkOptionsObject(prefix, partial, CLIENT_OPTION_KEYS) as Partial<MsRpcClientOptions>);
  const backoffPartial: unknown = defined.backoff ?? {};
  if (backoffPartial === null || typeof backoffPartial !== 'object' || Array.isArray(backoffPartial)) {
    throw new InvalidOptionsError(`${prefix}.backoff`, 'expected an options object');
  }
  const backoff = resolveBackoffOptions(
    { ...backoffPartial, ...(defined.retryStrategy ? { retryStrategy: defined.retryStrategy } : {}) },
    `${prefix}.backoff`,
  );
  const o: ResolvedClientOptions = {
    ...DEFAULT_CLIENT_OPTIONS,
    ...defined,
    ...resolveProtocolOptions(defined, prefix),
    ...resolveConnectionOptions(defined, prefix),
    backoff,
    balancer: resolveBalancerOptions(defined.balancer ?? {}, `${prefix}.balancer`),
    retryBudget: resolveRetryBudgetOptions(defined.retryBudget ?? {}, `${prefix}.retryBudget`),
    outlierDetection:
      defined.outlierDetection === false
        ? false
        : resolveOutlierDetectionOptions(defined.outlierDetection ?? {}, `${prefix}.outlierDetection`),
  };
  const p = (field: string) => `${prefix}.${field}`;
  checkString(p('service'), o.service);
  checkInteger(p('timeout'), o.timeout, 1);
  checkInteger(p('connectTimeout'), o.connectTimeout, 1);
  checkBoolean(p('inheritDeadline'), o.inheritDeadline);
  checkInteger(p('deadlineMargin'), o.deadlineMargin, 0, MAX_TIMER_DELAY_MS);
  checkBoolean(p('tracing'), o.tracing);
  if (typeof o.waitForReady !== 'boolean') throw new InvalidOptionsError(p('waitForReady'), 'expected a boolean');
  checkInteger(p('registryTimeout'), o.registryTimeout, 1, MAX_TIMER_DELAY_MS);
  checkInteger(p('connectionsPerProvider'), o.connectionsPerProvider, 1, 64);
  checkInteger(p('retries'), o.retries, 0, 16);
  if (!Array.isArray(o.idempotentPatterns)) {
    throw new InvalidOptionsError(p('idempotentPatterns'), 'expected an array of patterns');
  }
  o.idempotentPatterns.forEach((pattern, i) => checkString(`${p('idempotentPatterns')}[${i}]`, pattern));
  if (o.group !== undefined) checkString(p('group'), o.group);
  if (o.version !== undefined) checkString(p('version'), o.version);
  if (o.snapshotDir !== false) checkString(p('snapshotDir'), o.snapshotDir);
  if (o.providers !== undefined) parseStaticAddresses(o.providers, p('providers'));
  if (o.registry !== undefined) checkRegistry(p('registry'), o.registry);
  if (o.logger !== undefined) checkLogger(p('logger'), o.logger);
  return o;
}
