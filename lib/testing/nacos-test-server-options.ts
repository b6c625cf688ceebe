import { checkOptionsObject } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/** Loopback only: a test server must never be reachable from, or talk to, anything else. */
const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/** Options of {@link NacosTestServer}; every timing is shortenable so tests stay fast. */
export interface NacosTestServerOptions {
  /**
   * 0 picks a free port on first start; later restarts reuse the port actually bound.
   * @default 0
   */
  port?: number;
  /**
   * Loopback only: '127.0.0.1', '::1' or 'localhost'.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Ephemeral instance turns unhealthy after this long without a beat.
   * @default 15000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Ephemeral instance is removed after this long without a beat.
   * @default 30000
   */
  deleteTimeoutMs?: number;
  /**
   * Delay between a change and its UDP push.
   * @default 500
   */
  pushDelayMs?: number;
  /**
   * When set (with password), every naming call must authenticate, else HTTP 403.
   * @default undefined (no auth)
   */
  username?: string;
  /** @default undefined */
  password?: string;
  /**
   * `clientBeatInterval` answered to beats.
   * @default 5000
   */
  clientBeatIntervalMs?: number;
  /**
   * `cacheMillis` of ServiceInfo, i.e. the client's polling period.
   * @default 10000
   */
  cacheMillis?: number;
  /**
   * Period of the single health-check timer.
   * @default a fifth of the shortest timeout, within [10, 1000]
   */
  checkIntervalMs?: number;
}

export type ResolvedNacosTestServerOptions = Required<Omit<NacosTestServerOptions, 'username' | 'password'>>;

const KNOWN_KEYS = [
  'port',
  'host',
  'heartbeatTimeoutMs',
  'deleteTimeoutMs',
  'pushDelayMs',
  'username',
  'password',
  'clientBeatIntervalMs',
  'cacheMillis',
  'checkIntervalMs',
];

export function resolveNacosTestServerOptions(options: NacosTestServerOptions): ResolvedNacosTestServerOptions {
  checkOptionsObject('NacosTestServer', options, KNOWN_KEYS);
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.includes(host)) throw new InvalidOptionsError('NacosTestServer.host', `loopback only (${LOOPBACK_HOSTS.join(', ')}), got ${host}`);
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 15_000;
  const deleteTimeoutMs = options.deleteTimeoutMs ?? 30_000;
  return {
    port: options.port ?? 0,
    host,
    heartbeatTimeoutMs,
    deleteTimeoutMs,
    pushDelayMs: options.pushDelayMs ?? 500,
    clientBeatIntervalMs: options.clientBeatIntervalMs ?? 5000,
    cacheMillis: options.cacheMillis ?? 10_000,
    checkIntervalMs:
      options.checkIntervalMs ?? Math.min(1000, Math.max(10, Math.floor(Math.min(heartbeatTimeoutMs, deleteTimeoutMs) / 5))),
  };
}
