/**
 * nestjs-ms-rpc: a binary-framed RPC transport for NestJS with heartbeats, a reconnect
 * watchdog, a channel cache and Nacos discovery.
 */
export * from './errors/index.js';
export * from './protocol/index.js';
export { MsRpcServer, MS_RPC_TRANSPORT } from './server/ms-rpc-server.js';
export type { MsRpcServerStatus } from './server/ms-rpc-server.js';
export { MsRpcContext } from './server/ms-rpc-context.js';
export { DEFAULT_SERVER_OPTIONS, resolveServerOptions } from './server/server-options.js';
export type { MsRpcServerOptions } from './server/server-options.js';
export { MsRpcClient } from './client/ms-rpc-client.js';
export type { MsRpcClientEvents, MsRpcClientStatus } from './client/ms-rpc-client.js';
export { DEFAULT_CLIENT_OPTIONS, resolveClientOptions } from './client/client-options.js';
export type { MsRpcClientOptions, ProviderAddress } from './client/client-options.js';
export { DEFAULT_CONNECTION_OPTIONS } from './connection/connection-options.js';
export type { ConnectionOptions } from './connection/connection-options.js';
export type { ConnectionState } from './connection/connection-state.js';
export { Connection } from './connection/connection.js';
export { ChannelCache } from './channel/channel-cache.js';
export type { ChannelListener } from './channel/channel-cache.js';
export { resolveChannelOptions } from './channel/channel-options.js';
export type { ChannelOptions } from './channel/channel-options.js';
export { ReconnectWatchdog } from './channel/reconnect-watchdog.js';
export { Directory } from './directory/directory.js';
export * from './balancer/index.js';
export * from './metrics/index.js';
export { MsRpcRecord, MsRpcRecordBuilder } from './client/ms-rpc-record.js';
export type { MsRpcCallOptions } from './client/ms-rpc-record.js';
export type { MsRpcCallInit } from './client/call-sinks.js';
export type { MsRpcClientDeps } from './client/ms-rpc-client.js';
export * from './liveness/index.js';
export * from './registry/index.js';
export type { Clock } from './common/clock.js';
export { systemClock } from './common/clock.js';
export type { MsRpcLogger } from './common/logger.js';
export * from './module/index.js';
export * from './routing/index.js';
export * from './security/index.js';
