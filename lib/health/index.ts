/**
 * Optional `@nestjs/terminus` integration. Deliberately not re-exported from lib/index.ts: this
 * entry loads `@nestjs/terminus`, which applications without health checks need not install.
 * Publish it as its own subpath (`nestjs-ms-rpc/health`).
 */
export { MsRpcHealthIndicator } from './ms-rpc-health-indicator.js';
export type { MsRpcHealthDetails } from './ms-rpc-health-indicator.js';
export { MsRpcHealthModule } from './ms-rpc-health-module.js';
export type { MsRpcHealthAsyncOptions } from './ms-rpc-health-module.js';
export { MS_RPC_HEALTH_OPTIONS } from './health-options.js';
export type { MsRpcHealthOptions } from './health-options.js';
export type { HealthSource, ReachableRegistry, RegistryHealth, ServiceHealth, WatchedSource } from './health-source.js';
// The main entry's Clock, re-exported so that this entry's signatures read on their own.
export type { Clock, TimerHandle } from '../common/clock.js';
