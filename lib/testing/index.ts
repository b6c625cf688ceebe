/**
 * `nestjs-ms-rpc/testing`: protocol-faithful Nacos stand-ins for an application's own tests, as
 * `@nestjs/testing` is for Nest. No real Nacos is needed: the servers speak the wire protocols the
 * registry clients speak, on loopback only, and keep everything in memory.
 *
 * - {@link NacosTestServer}: the v1 HTTP naming API (register, beat, list, UDP push, login), what
 *   a NacosRegistry with `protocol: 'http'` talks to.
 * - {@link NacosGrpcTestServer}: the native gRPC API of Nacos 2.x/3.x (connections, pushes with acks,
 *   auth, TLS, restarts), what the default `protocol: 'grpc'` talks to. Several nodes can share one
 *   {@link NacosGrpcTestStore} to form a cluster.
 * - {@link startNacosTestServers}: both on one address, as a Nacos server serves them (what
 *   `npm run nacos:test-server` runs).
 *
 * Nothing here depends on a test runner. The gRPC server needs the optional peers `@grpc/grpc-js`
 * and `protobufjs` (loaded by its start()); the HTTP server needs none.
 *
 * ```ts
 * import { startNacosTestServers } from 'nestjs-ms-rpc/testing';
 *
 * const nacos = await startNacosTestServers();
 * const app = await NestFactory.createApplicationContext(
 *   AppModule.forNacos({ serverList: nacos.serverList }),
 * );
 * // ... calls through the app's clients ...
 * await app.close();
 * await nacos.stop();
 * ```
 *
 * @packageDocumentation
 */
export { NacosTestServer } from './nacos-test-server.js';
export type { NacosTestScope, NacosTestServerOptions, PushRecord, StoredInstance } from './nacos-test-server.js';
export { NacosGrpcTestServer } from './nacos-grpc/nacos-grpc-test-server.js';
export type { TranscriptEntry } from './nacos-grpc/nacos-grpc-test-server.js';
export type { GrpcPushRecord } from './nacos-grpc/grpc-test-pusher.js';
export type { NacosPayload } from '../registry/nacos-grpc/payload-codec.js';
export type { NacosGrpcTestAuthOptions, NacosGrpcTestServerOptions } from './nacos-grpc/grpc-test-options.js';
export { NacosGrpcTestStore } from './nacos-grpc/grpc-test-store.js';
export type { GrpcStoredInstance, ServiceChangeListener } from './nacos-grpc/grpc-test-store.js';
export type { NacosInstanceSpec } from '../registry/nacos-instance.js';
export { startNacosTestServers } from './nacos-test-servers.js';
export type { NacosTestServers, NacosTestServersOptions } from './nacos-test-servers.js';
