/**
 * nestjs-ms-rpc: a binary-framed RPC transport for NestJS with heartbeats, a reconnect
 * watchdog, a channel cache and Nacos discovery.
 *
 * The public API is exactly what this file exports, name by name (no `export *`), recorded in
 * etc/nestjs-ms-rpc.api.md and checked by `npm run api:check`: a change here is a visible diff
 * there (`npm run api:update` rewrites it). Internals (connections, codecs, timers, option
 * resolvers) stay importable by relative path for the project's own tests and bench only.
 * Optional integrations have their own entries: `nestjs-ms-rpc/health` (@nestjs/terminus) and
 * `nestjs-ms-rpc/testing` (Nacos test servers).
 *
 * @packageDocumentation
 */

// ── Nest module ─────────────────────────────────────────────────────────────────────────────
export { MsRpcModule } from './module/ms-rpc-module.js';
export { MsRpcServerFactory } from './module/ms-rpc-server-factory.js';
export { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './module/ms-rpc-tokens.js';
export type {
  MsRpcClientAsyncRegistration,
  MsRpcClientRegistration,
  MsRpcModuleAsyncOptions,
  MsRpcModuleOptions,
  ResolvedMsRpcModuleOptions,
} from './module/ms-rpc-module-options.js';
export type { ChannelOptions } from './channel/channel-options.js';

// ── Server (provider side) ──────────────────────────────────────────────────────────────────
export { MS_RPC_TRANSPORT, MsRpcServer } from './server/ms-rpc-server.js';
export type { MsRpcServerStatus } from './server/ms-rpc-server.js';
export type { MsRpcServerOptions } from './server/server-options.js';
export { MsRpcContext } from './server/ms-rpc-context.js';
export type { MsRpcContextArgs } from './server/ms-rpc-context.js';

// ── Client (consumer side) ──────────────────────────────────────────────────────────────────
export { MsRpcClient } from './client/ms-rpc-client.js';
export type { MsRpcClientDeps, MsRpcClientEvents, MsRpcClientStatus } from './client/ms-rpc-client.js';
export type { MsRpcClientOptions, ProviderAddress } from './client/client-options.js';
export { MsRpcRecord, MsRpcRecordBuilder } from './client/ms-rpc-record.js';
export type { MsRpcCallOptions } from './client/ms-rpc-record.js';
export type { MsRpcCallInit } from './client/call-sinks.js';

// ── Options shared by client, server and module ─────────────────────────────────────────────
export type { ProtocolOptions } from './protocol/protocol-options.js';
export type { SerializerName } from './protocol/serializer.js';
export type { CompressionName } from './protocol/compressor.js';
export type { Metadata } from './protocol/message.js';
export type { ConnectionOptions } from './connection/connection-options.js';
export type { ConnectionState } from './connection/connection-state.js';
export type { BackoffOptions, RetryStrategy } from './liveness/backoff-options.js';
export type { OutlierDetectionOptions, RetryBudgetOptions } from './routing/routing-options.js';
export type { ClientSecurityOptions, ServerAuthOptions, ServerSecurityOptions } from './security/security-options.js';
export type { MsRpcLogger } from './common/logger.js';
export type { Clock, TimerHandle } from './common/clock.js';

// ── Errors ──────────────────────────────────────────────────────────────────────────────────
export { MsRpcError } from './errors/ms-rpc-error.js';
export type { MsRpcErrorCode } from './errors/ms-rpc-error.js';
export { AuthError } from './errors/auth-error.js';
export { BackpressureError } from './errors/backpressure-error.js';
export { ClientClosedError } from './errors/client-closed-error.js';
export { ConnectTimeoutError } from './errors/connect-timeout-error.js';
export { ConnectionClosedError } from './errors/connection-closed-error.js';
export { EncodeError } from './errors/encode-error.js';
export { FrameDecodeError } from './errors/frame-decode-error.js';
export { FrameTimeoutError } from './errors/frame-timeout-error.js';
export { FrameTooLargeError } from './errors/frame-too-large-error.js';
export { InvalidOptionsError } from './errors/invalid-options-error.js';
export { MissingDependencyError } from './errors/missing-dependency-error.js';
export { NacosServerError } from './errors/nacos-server-error.js';
export { NoHandlerError } from './errors/no-handler-error.js';
export { NoProviderError } from './errors/no-provider-error.js';
export type { ProviderFailure } from './errors/no-provider-error.js';
export { ProtocolError } from './errors/protocol-error.js';
export { RegistryError } from './errors/registry-error.js';
export { RegistryTimeoutError } from './errors/registry-timeout-error.js';
export { RequestCancelledError } from './errors/request-cancelled-error.js';
export type { CancelKind } from './errors/request-cancelled-error.js';
export { RpcTimeoutError } from './errors/rpc-timeout-error.js';
export { ServerBusyError } from './errors/server-busy-error.js';
export { TlsHandshakeError } from './errors/tls-handshake-error.js';

// ── Registries (discovery) ──────────────────────────────────────────────────────────────────
export type { InstancesListener, Registry } from './registry/registry.js';
export type { ServiceInstance } from './registry/service-instance.js';
export type { Registration } from './registry/registration.js';
export { StaticRegistry } from './registry/static-registry.js';
export type { StaticAddress } from './registry/static-registry.js';
export { NacosRegistry } from './registry/nacos-registry.js';
export type { NacosGrpcOptions } from './registry/nacos-grpc/nacos-grpc-options.js';
export type {
  NacosProtocol,
  NacosRegistryOptions,
  NacosRegistryOptionsInput,
  NacosServerAddress,
  NacosTlsOptions,
} from './registry/nacos-registry-options.js';

// ── Load balancing ──────────────────────────────────────────────────────────────────────────
export type { Balancer, Candidate, PickContext } from './balancer/balancer.js';
export { candidateWeight } from './balancer/balancer.js';
export type { BalancerOptions, BuiltinBalancerName, HashKeyFunction } from './balancer/balancer-options.js';
export type { BalancerDeps, BalancerFactory } from './balancer/balancer-registry.js';
export { WeightedRandomBalancer } from './balancer/weighted-random-balancer.js';
export { SmoothRoundRobinBalancer } from './balancer/round-robin-balancer.js';
export { LeastActiveBalancer } from './balancer/least-active-balancer.js';
export { ConsistentHashBalancer } from './balancer/consistent-hash-balancer.js';
export type { ConsistentHashInit } from './balancer/consistent-hash-balancer.js';

// ── Metrics and health ──────────────────────────────────────────────────────────────────────
export { RpcMetrics } from './metrics/rpc-metrics.js';
export type { RpcMetricsOptions } from './metrics/metrics-options.js';
export type { RpcErrorKind } from './metrics/error-kind.js';
export type { HistogramBucketSnapshot, HistogramSnapshot } from './metrics/latency-histogram.js';
export type {
  ErrorCounts,
  PatternProviderSnapshot,
  PatternSnapshot,
  ProviderSnapshot,
  RpcMetricsSnapshot,
  RpcTotalsSnapshot,
} from './metrics/metrics-snapshot.js';
// Types only: the indicator itself is `nestjs-ms-rpc/health`, which loads @nestjs/terminus.
export type { HealthSource, RegistryHealth, ServiceHealth, WatchedSource } from './health/health-source.js';
