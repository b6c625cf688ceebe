export { MsRpcModule } from './ms-rpc-module.js';
export { MsRpcCoreModule } from './ms-rpc-core-module.js';
export { MsRpcLifecycle } from './ms-rpc-lifecycle.js';
export { MsRpcServerFactory } from './ms-rpc-server-factory.js';
export { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';
export { resolveModuleOptions } from './ms-rpc-module-options.js';
export type {
  MsRpcModuleOptions,
  MsRpcModuleAsyncOptions,
  MsRpcClientRegistration,
  MsRpcClientAsyncRegistration,
  ResolvedMsRpcModuleOptions,
} from './ms-rpc-module-options.js';
