import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkInteger, checkKnownKeys, checkString, definedOptions } from '../common/option-checks.js';
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
   * Logical service name: what discovery looks up and what errors name.
   * @default 'ms-rpc'
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

const CLIENT_KEYS = [
  'service',
  'providers',
  'registry',
  'registryTimeout',
  'group',
  'version',
  'snapshotDir',
  'timeout',
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
] as const;

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  service: 'ms-rpc',
  snapshotDir: join(homedir(), '.nestjs-ms-rpc', 'snapshots') as string | false,
  registryTimeout: DEFAULT_REGISTRY_TIMEOUT,
  timeout: 3000,
  connectTimeout: 10000,
  waitForReady: false,
  connectionsPerProvider: 1,
  retries: 0,
  idempotentPatterns: [] as string[],
});

export function resolveClientOptions(partial: Partial<MsRpcClientOptions> = {}): ResolvedClientOptions {
  const defined = definedOptions(partial);
  checkKnownKeys('MsRpcClient', defined, [...CLIENT_KEYS, ...PROTOCOL_OPTION_KEYS, ...CONNECTION_OPTION_KEYS]);
  const backoff = resolveBackoffOptions(
    { ...(defined.backoff ?? {}), ...(defined.retryStrategy ? { retryStrategy: defined.retryStrategy } : {}) },
    'MsRpcClient.backoff',
  );
  const o: ResolvedClientOptions = {
    ...DEFAULT_CLIENT_OPTIONS,
    ...defined,
    ...resolveProtocolOptions(defined, 'MsRpcClient'),
    ...resolveConnectionOptions(defined, 'MsRpcClient'),
    backoff,
    balancer: resolveBalancerOptions(defined.balancer ?? {}, 'MsRpcClient.balancer'),
    retryBudget: resolveRetryBudgetOptions(defined.retryBudget ?? {}, 'MsRpcClient.retryBudget'),
    outlierDetection:
      defined.outlierDetection === false
        ? false
        : resolveOutlierDetectionOptions(defined.outlierDetection ?? {}, 'MsRpcClient.outlierDetection'),
  };
  checkString('MsRpcClient.service', o.service);
  checkInteger('MsRpcClient.timeout', o.timeout, 1);
  checkInteger('MsRpcClient.connectTimeout', o.connectTimeout, 1);
  if (typeof o.waitForReady !== 'boolean') throw new InvalidOptionsError('MsRpcClient.waitForReady', 'expected a boolean');
  checkInteger('MsRpcClient.registryTimeout', o.registryTimeout, 1, MAX_TIMER_DELAY_MS);
  checkInteger('MsRpcClient.connectionsPerProvider', o.connectionsPerProvider, 1, 64);
  checkInteger('MsRpcClient.retries', o.retries, 0, 16);
  if (!Array.isArray(o.idempotentPatterns)) {
    throw new InvalidOptionsError('MsRpcClient.idempotentPatterns', 'expected an array of patterns');
  }
  o.idempotentPatterns.forEach((p, i) => checkString(`MsRpcClient.idempotentPatterns[${i}]`, p));
  if (o.group !== undefined) checkString('MsRpcClient.group', o.group);
  if (o.version !== undefined) checkString('MsRpcClient.version', o.version);
  if (o.snapshotDir !== false) checkString('MsRpcClient.snapshotDir', o.snapshotDir);
  const hasProviders = o.providers !== undefined;
  if (hasProviders === (o.registry !== undefined)) {
    throw new InvalidOptionsError(
      hasProviders ? 'MsRpcClient.registry' : 'MsRpcClient.providers',
      'give exactly one of `providers` (direct mode) and `registry` (discovery)',
    );
  }
  if (hasProviders && (!Array.isArray(o.providers) || o.providers.length === 0)) {
    throw new InvalidOptionsError('MsRpcClient.providers', 'expected a non-empty array of addresses');
  }
  return o;
}
