import { checkOptionsObject } from '../common/option-checks.js';
import { NacosGrpcTestServer } from './nacos-grpc/nacos-grpc-test-server.js';
import type { NacosGrpcTestServerOptions } from './nacos-grpc/grpc-test-options.js';
import { NacosTestServer } from './nacos-test-server.js';
import type { NacosTestServerOptions } from './nacos-test-server-options.js';

/** Options of {@link startNacosTestServers}. */
export interface NacosTestServersOptions {
  /**
   * Main port P: the HTTP v1 API and the login listen on P, the gRPC API on P + 1000, as a Nacos
   * 2.x server lays them out. 0 picks a free P whose P + 1000 is free too.
   * @default 0
   */
  port?: number;
  /**
   * Loopback only: '127.0.0.1', '::1' or 'localhost'.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * With `password`: both protocols require authentication; the login is served over HTTP on P and
   * its tokens are accepted by the gRPC server too.
   * @default undefined (no auth)
   */
  username?: string;
  /** @default '' when `username` is set */
  password?: string;
  /**
   * Settings of the HTTP server alone (timings such as `heartbeatTimeoutMs`, `pushDelayMs`).
   * @default {}
   */
  http?: Omit<NacosTestServerOptions, 'port' | 'host' | 'username' | 'password'>;
  /**
   * Settings of the gRPC server alone (timings such as `pushDelayMs`, `idleTimeoutMs`; `tls`).
   * @default {}
   */
  grpc?: Omit<NacosGrpcTestServerOptions, 'port' | 'grpcPort' | 'host' | 'auth'>;
}

/** Both test servers on one address; see {@link startNacosTestServers}. */
export interface NacosTestServers {
  /** The v1 HTTP API (what `protocol: 'http'` talks to) and the login. */
  readonly http: NacosTestServer;
  /** The native gRPC API (what `protocol: 'grpc'`, the default, talks to). */
  readonly grpc: NacosGrpcTestServer;
  /** `host:port` for a NacosRegistry's `serverList`, whichever protocol it uses. */
  readonly serverList: string;
  /** Stops both servers (sockets, timers); they cannot be started again. */
  stop(): Promise<void>;
}

/** Attempts at finding a free P with P + 1000 free when `port` is 0. */
const MAX_PORT_ATTEMPTS = 20;

/**
 * Starts a {@link NacosTestServer} and a {@link NacosGrpcTestServer} on one address, as a Nacos 2.x
 * server serves both protocols (what `npm run nacos:test-server` runs). A NacosRegistry with
 * `serverList: servers.serverList` works with `protocol: 'grpc'` and `'http'`; the two protocols
 * keep separate instance stores, so a provider and its consumers must use the same one.
 *
 * ```ts
 * const nacos = await startNacosTestServers();
 * // ... MsRpcModule.forRoot({ nacos: { serverList: nacos.serverList } }) ...
 * await nacos.stop();
 * ```
 *
 * Needs the optional peers `@grpc/grpc-js` and `protobufjs` (the gRPC server loads them on start).
 */
export async function startNacosTestServers(options: NacosTestServersOptions = {}): Promise<NacosTestServers> {
  checkOptionsObject('startNacosTestServers', options, ['port', 'host', 'username', 'password', 'http', 'grpc']);
  const { port = 0, host, username, http: httpOptions, grpc: grpcOptions } = options;
  const password = username !== undefined ? (options.password ?? '') : undefined;
  for (let attempt = 1; ; attempt++) {
    const http = new NacosTestServer({ ...httpOptions, port, host, username, password });
    await http.start();
    const grpc = new NacosGrpcTestServer({
      ...grpcOptions,
      host,
      port: http.port,
      grpcPort: http.port + 1000,
      // The HTTP server answers the login on P; the gRPC server accepts its tokens.
      auth: username !== undefined ? { username, password: password ?? '', login: false, acceptToken: (t) => http.acceptsToken(t) } : undefined,
    });
    try {
      await grpc.start();
    } catch (err) {
      await http.stop();
      const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' || http.port + 1000 > 65535;
      if (port !== 0 || !taken || attempt >= MAX_PORT_ATTEMPTS) throw err;
      continue;
    }
    return {
      http,
      grpc,
      serverList: http.address,
      stop: async () => {
        await Promise.all([http.stop(), grpc.stop()]);
      },
    };
  }
}
