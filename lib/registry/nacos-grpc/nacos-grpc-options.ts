import { checkInteger, checkOptionsObject, checkString, definedOptions } from '../../common/option-checks.js';
import { InvalidOptionsError } from '../../errors/invalid-options-error.js';

/**
 * Timings of the gRPC Nacos client. The defaults are the Java client's (`RpcClient`,
 * `DefaultGrpcClientConfig`, `NamingGrpcRedoService`); shorten them only in tests.
 */
export interface NacosGrpcOptions {
  /**
   * Bound of one naming request, retries and waiting for a connection included, in ms.
   * @default 3000
   */
  requestTimeout: number;
  /**
   * How often the connection's liveness is checked; a HealthCheck is sent when nothing succeeded
   * for this long, in ms.
   * @default 5000
   */
  healthCheckInterval: number;
  /**
   * Bound of one HealthCheck request, in ms.
   * @default 3000
   */
  healthCheckTimeout: number;
  /**
   * HealthCheck retries (after random pauses of up to 500 ms) before the connection is replaced.
   * @default 3
   */
  healthCheckRetries: number;
  /**
   * How long ServerCheck may take, in ms.
   * @default 3000
   */
  serverCheckTimeout: number;
  /**
   * How long to wait for the server's SetupAck after ConnectionSetup before giving up on that server, in ms.
   * @default 5000
   */
  setupAckTimeout: number;
  /**
   * Period of the redo task that re-sends registrations and subscriptions the server does not hold
   * (after a failure); after a reconnect they are redone at once, in ms.
   * @default 3000
   */
  redoInterval: number;
  /**
   * First pause between connection attempts, doubled up to `reconnectMaxDelay`, in ms.
   * @default 100
   */
  reconnectMinDelay: number;
  /**
   * Longest pause between connection attempts, in ms.
   * @default 5000
   */
  reconnectMaxDelay: number;
  /**
   * Bound of one login request, in ms.
   * @default 5000
   */
  loginTimeout: number;
  /**
   * Largest message accepted from the server, in bytes (a ServiceInfo with thousands of hosts is large).
   * @default 10485760 (10 MiB)
   */
  maxInboundMessageSize: number;
  /**
   * Application name reported in the connection labels (`AppName`) and the `app` header.
   * @default 'unknown'
   */
  appName: string;
}

export const DEFAULT_NACOS_GRPC_OPTIONS: Readonly<NacosGrpcOptions> = Object.freeze({
  requestTimeout: 3000,
  healthCheckInterval: 5000,
  healthCheckTimeout: 3000,
  healthCheckRetries: 3,
  serverCheckTimeout: 3000,
  setupAckTimeout: 5000,
  redoInterval: 3000,
  reconnectMinDelay: 100,
  reconnectMaxDelay: 5000,
  loginTimeout: 5000,
  maxInboundMessageSize: 10 * 1024 * 1024,
  appName: 'unknown',
});

const KEYS = Object.keys(DEFAULT_NACOS_GRPC_OPTIONS);
const DURATIONS = KEYS.filter((k) => k !== 'appName' && k !== 'healthCheckRetries' && k !== 'maxInboundMessageSize');

/** Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field. */
export function resolveNacosGrpcOptions(partial: Partial<NacosGrpcOptions> | undefined, prefix = 'NacosRegistry.grpc'): NacosGrpcOptions {
  if (partial === undefined) return { ...DEFAULT_NACOS_GRPC_OPTIONS };
  checkOptionsObject(prefix, partial, KEYS);
  const merged = { ...DEFAULT_NACOS_GRPC_OPTIONS, ...definedOptions(partial) } as NacosGrpcOptions;
  for (const key of DURATIONS) checkInteger(`${prefix}.${key}`, merged[key as keyof NacosGrpcOptions], 1, 600_000);
  checkInteger(`${prefix}.healthCheckRetries`, merged.healthCheckRetries, 0, 10);
  checkInteger(`${prefix}.maxInboundMessageSize`, merged.maxInboundMessageSize, 4096, 1024 * 1024 * 1024);
  checkString(`${prefix}.appName`, merged.appName);
  if (merged.reconnectMaxDelay < merged.reconnectMinDelay) {
    throw new InvalidOptionsError(`${prefix}.reconnectMaxDelay`, 'must be >= reconnectMinDelay');
  }
  return merged;
}
