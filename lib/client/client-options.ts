import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkInteger, checkKnownKeys, checkString } from '../common/option-checks.js';
import { MsRpcLogger } from '../common/logger.js';
import {
  CONNECTION_OPTION_KEYS,
  ConnectionOptions,
  resolveConnectionOptions,
} from '../connection/connection-options.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { BackoffOptions, RetryStrategy, resolveBackoffOptions } from '../liveness/backoff-options.js';
import { PROTOCOL_OPTION_KEYS, ProtocolOptions, resolveProtocolOptions } from '../protocol/protocol-options.js';
import type { Registry } from '../registry/registry.js';
import { BalancerOptions, resolveBalancerOptions } from '../balancer/balancer-options.js';

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
   * Long-lived connections kept per provider address.
   * @default 1
   */
  connectionsPerProvider: number;
  /**
   * Reconnect backoff (start 100 ms, factor 2, cap 30 s, ±20 % jitter, 12 attempts, then eviction).
   * @default DEFAULT_BACKOFF_OPTIONS
   */
  backoff: Partial<BackoffOptions>;
  /**
   * Overrides the backoff: `(attempt) => delayMs | null` (null gives up and evicts), as in ioredis.
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
   * Where the transport logs; Nest's Logger fits.
   * @default a Nest Logger with context 'MsRpcClient'
   */
  logger?: MsRpcLogger;
}

export type ResolvedClientOptions = MsRpcClientOptions & { backoff: BackoffOptions; balancer: BalancerOptions };

const CLIENT_KEYS = [
  'service',
  'providers',
  'registry',
  'group',
  'version',
  'snapshotDir',
  'timeout',
  'connectTimeout',
  'connectionsPerProvider',
  'backoff',
  'retryStrategy',
  'balancer',
  'logger',
] as const;

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  service: 'ms-rpc',
  snapshotDir: join(homedir(), '.nestjs-ms-rpc', 'snapshots') as string | false,
  timeout: 3000,
  connectTimeout: 10000,
  connectionsPerProvider: 1,
});

export function resolveClientOptions(partial: Partial<MsRpcClientOptions> = {}): ResolvedClientOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<MsRpcClientOptions>;
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
  };
  checkString('MsRpcClient.service', o.service);
  checkInteger('MsRpcClient.timeout', o.timeout, 1);
  checkInteger('MsRpcClient.connectTimeout', o.connectTimeout, 1);
  checkInteger('MsRpcClient.connectionsPerProvider', o.connectionsPerProvider, 1, 64);
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
