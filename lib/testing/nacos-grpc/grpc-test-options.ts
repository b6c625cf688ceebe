import { checkOptionsObject } from '../../common/option-checks.js';
import { InvalidOptionsError } from '../../errors/invalid-options-error.js';

/** Loopback only: a test server must never be reachable from, or talk to, anything else. */
const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/** Authentication of {@link NacosGrpcTestServer}, as Nacos's default auth plugin does it. */
export interface NacosGrpcTestAuthOptions {
  username: string;
  password: string;
  /**
   * `tokenTtl` answered by the login, in seconds (as Nacos).
   * @default 18000
   */
  tokenTtlSeconds?: number;
  /**
   * Serve the login (v3 + v1 paths) over HTTP on the main port.
   * @default true
   */
  login?: boolean;
  /**
   * Answer 404 on the v3 login path, as servers before 3.0 do (the client falls back to v1).
   * @default false
   */
  v1Only?: boolean;
  /**
   * Also accept tokens issued elsewhere (e.g. by the HTTP test server on the same main port).
   * @default undefined
   */
  acceptToken?: (token: string) => boolean;
}

/** Options of {@link NacosGrpcTestServer}; every timing of a real Nacos is shortenable. */
export interface NacosGrpcTestServerOptions {
  /**
   * Loopback only: '127.0.0.1', '::1' or 'localhost'.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Main port P: the gRPC port is P + 1000 and the login (when auth is on) listens on P. 0 picks a
   * free P whose P + 1000 is free too. Later restarts reuse the ports actually bound.
   * @default 0
   */
  port?: number;
  /**
   * Explicit gRPC port instead of P + 1000 (0 = any free port).
   * @default undefined (P + 1000)
   */
  grpcPort?: number;
  /**
   * Name of this node in logs and connection ids of a cluster.
   * @default 'node'
   */
  name?: string;
  /**
   * Delay between a change and its push, batching changes (as Nacos).
   * @default 500
   */
  pushDelayMs?: number;
  /**
   * Delay of the push that follows a subscribe (Nacos: about 500).
   * @default pushDelayMs
   */
  subscribePushDelayMs?: number;
  /**
   * How long a push waits for its ack before it is retried (as Nacos).
   * @default 5000
   */
  pushTimeoutMs?: number;
  /**
   * Pause before a push is retried (as Nacos).
   * @default 1000
   */
  pushRetryDelayMs?: number;
  /**
   * A connection idle this long gets a ClientDetectionRequest (as Nacos).
   * @default 20000
   */
  idleTimeoutMs?: number;
  /**
   * Period of the idle scan (as Nacos).
   * @default 3000
   */
  detectionIntervalMs?: number;
  /**
   * How long a ClientDetectionRequest waits for its answer before the connection is dropped (as Nacos).
   * @default 5000
   */
  detectionTimeoutMs?: number;
  /**
   * How long instances of a connection of a node that stopped stay in a shared store, as other
   * cluster nodes keep a dead node's clients until they expire (as Nacos).
   * @default 180000
   */
  orphanExpiryMs?: number;
  /**
   * Require authentication (Nacos's default auth plugin).
   * @default undefined (no auth)
   */
  auth?: NacosGrpcTestAuthOptions;
  /**
   * PEM key and certificate: TLS on the gRPC port.
   * @default undefined (plaintext)
   */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ResolvedNacosGrpcTestServerOptions
  extends Required<Omit<NacosGrpcTestServerOptions, 'auth' | 'tls' | 'grpcPort'>> {
  grpcPort: number | undefined;
  auth: NacosGrpcTestAuthOptions | undefined;
  tls: NacosGrpcTestServerOptions['tls'];
}

const KNOWN_KEYS = [
  'host',
  'port',
  'grpcPort',
  'name',
  'pushDelayMs',
  'subscribePushDelayMs',
  'pushTimeoutMs',
  'pushRetryDelayMs',
  'idleTimeoutMs',
  'detectionIntervalMs',
  'detectionTimeoutMs',
  'orphanExpiryMs',
  'auth',
  'tls',
  // The constructor's extra: several nodes over one store.
  'store',
];

export function resolveNacosGrpcTestServerOptions(o: NacosGrpcTestServerOptions): ResolvedNacosGrpcTestServerOptions {
  checkOptionsObject('NacosGrpcTestServer', o, KNOWN_KEYS);
  if (o.auth !== undefined) {
    checkOptionsObject('NacosGrpcTestServer.auth', o.auth, ['username', 'password', 'tokenTtlSeconds', 'login', 'v1Only', 'acceptToken']);
  }
  if (o.tls !== undefined) checkOptionsObject('NacosGrpcTestServer.tls', o.tls, ['key', 'cert']);
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.includes(host)) throw new InvalidOptionsError('NacosGrpcTestServer.host', `loopback only (${LOOPBACK_HOSTS.join(', ')}), got ${host}`);
  return {
    host,
    port: o.port ?? 0,
    grpcPort: o.grpcPort,
    name: o.name ?? 'node',
    pushDelayMs: o.pushDelayMs ?? 500,
    subscribePushDelayMs: o.subscribePushDelayMs ?? o.pushDelayMs ?? 500,
    pushTimeoutMs: o.pushTimeoutMs ?? 5000,
    pushRetryDelayMs: o.pushRetryDelayMs ?? 1000,
    idleTimeoutMs: o.idleTimeoutMs ?? 20_000,
    detectionIntervalMs: o.detectionIntervalMs ?? 3000,
    detectionTimeoutMs: o.detectionTimeoutMs ?? 5000,
    orphanExpiryMs: o.orphanExpiryMs ?? 180_000,
    auth: o.auth,
    tls: o.tls,
  };
}
