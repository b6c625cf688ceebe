/** Options of {@link NacosGrpcTestServer}; every timing of a real Nacos is shortenable. */

const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

export interface NacosGrpcTestAuthOptions {
  username: string;
  password: string;
  /** `tokenTtl` answered by the login, in seconds (Nacos: 18000). */
  tokenTtlSeconds?: number;
  /** Serve the login (v3 + v1 paths) over HTTP on the main port. Default true. */
  login?: boolean;
  /** Answer 404 on the v3 login path, as servers before 3.0 do (the client falls back to v1). */
  v1Only?: boolean;
  /** Also accept tokens issued elsewhere (e.g. by the HTTP test server on the same main port). */
  acceptToken?: (token: string) => boolean;
}

export interface NacosGrpcTestServerOptions {
  /** Loopback only. Default '127.0.0.1'. */
  host?: string;
  /**
   * Main port P: the gRPC port is P + 1000 and the login (when auth is on) listens on P. 0 picks a
   * free P whose P + 1000 is free too. Later restarts reuse the ports actually bound.
   */
  port?: number;
  /** Explicit gRPC port instead of P + 1000 (0 = any free port). */
  grpcPort?: number;
  /** Name of this node in logs and connection ids of a cluster. Default 'node'. */
  name?: string;
  /** Delay between a change and its push, batching changes (Nacos: 500). */
  pushDelayMs?: number;
  /** Delay of the push that follows a subscribe (Nacos: ~500). */
  subscribePushDelayMs?: number;
  /** How long a push waits for its ack before it is retried (Nacos pushTaskTimeout: 5000). */
  pushTimeoutMs?: number;
  /** Pause before a push is retried (Nacos: 1000). */
  pushRetryDelayMs?: number;
  /** A connection idle this long gets a ClientDetectionRequest (Nacos KEEP_ALIVE_TIME: 20000). */
  idleTimeoutMs?: number;
  /** Period of the idle scan (Nacos: 3000). */
  detectionIntervalMs?: number;
  /** How long a ClientDetectionRequest waits for its answer before the connection is dropped (Nacos: 5000). */
  detectionTimeoutMs?: number;
  /**
   * How long instances of a connection of a node that stopped stay in a shared store, as other
   * cluster nodes keep a dead node's clients until they expire (Nacos: 180000).
   */
  orphanExpiryMs?: number;
  auth?: NacosGrpcTestAuthOptions;
  /** PEM key and certificate: TLS on the gRPC port. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ResolvedNacosGrpcTestServerOptions
  extends Required<Omit<NacosGrpcTestServerOptions, 'auth' | 'tls' | 'grpcPort'>> {
  grpcPort: number | undefined;
  auth: NacosGrpcTestAuthOptions | undefined;
  tls: NacosGrpcTestServerOptions['tls'];
}

export function resolveNacosGrpcTestServerOptions(o: NacosGrpcTestServerOptions): ResolvedNacosGrpcTestServerOptions {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.includes(host)) throw new Error(`NacosGrpcTestServer binds loopback only, got host ${host}`);
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
