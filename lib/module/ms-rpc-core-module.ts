import { DynamicModule, Global, Logger, Module, Provider } from '@nestjs/common';
import { ChannelCache } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import { boundedLogger, MsRpcLogger } from '../common/logger.js';
import { RpcMetrics } from '../metrics/rpc-metrics.js';
import { NacosRegistry } from '../registry/nacos-registry.js';
import type { Registry } from '../registry/registry.js';
import { MsRpcLifecycle } from './ms-rpc-lifecycle.js';
import { MsRpcServerFactory } from './ms-rpc-server-factory.js';
import { MsRpcModuleAsyncOptions, MsRpcModuleOptions, ResolvedMsRpcModuleOptions, resolveModuleOptions } from './ms-rpc-module-options.js';
import { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';

const LOGGER = Symbol('MS_RPC_LOGGER');

/** The shared layers, built from the resolved options. */
const SHARED_PROVIDERS: Provider[] = [
  {
    provide: LOGGER,
    useFactory: (o: ResolvedMsRpcModuleOptions): MsRpcLogger => boundedLogger(o.logger ?? new Logger('MsRpc')),
    inject: [MS_RPC_MODULE_OPTIONS],
  },
  {
    provide: MS_RPC_REGISTRY,
    useFactory: async (o: ResolvedMsRpcModuleOptions, logger: MsRpcLogger): Promise<Registry | null> => {
      const registry = o.registry ?? (o.nacos ? new NacosRegistry({ logger, ...o.nacos }) : null);
      // Its client packages are optional peers: a missing one fails the app's startup with the
      // `npm install` to run, not every registry call later.
      if (registry instanceof NacosRegistry) await registry.loadDependencies();
      return registry;
    },
    inject: [MS_RPC_MODULE_OPTIONS, LOGGER],
  },
  {
    provide: ChannelCache,
    useFactory: (o: ResolvedMsRpcModuleOptions, logger: MsRpcLogger) => new ChannelCache(o.channel, logger),
    inject: [MS_RPC_MODULE_OPTIONS, LOGGER],
  },
  {
    provide: ReconnectWatchdog,
    useFactory: (o: ResolvedMsRpcModuleOptions, channels: ChannelCache, logger: MsRpcLogger) =>
      new ReconnectWatchdog(channels, o.backoff, logger),
    inject: [MS_RPC_MODULE_OPTIONS, ChannelCache, LOGGER],
  },
  {
    provide: RpcMetrics,
    useFactory: (o: ResolvedMsRpcModuleOptions) => (o.metrics ? new RpcMetrics() : null),
    inject: [MS_RPC_MODULE_OPTIONS],
  },
  MsRpcLifecycle,
  MsRpcServerFactory,
];

const EXPORTS = [MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY, ChannelCache, ReconnectWatchdog, RpcMetrics, MsRpcServerFactory];

/**
 * Holds the registry, channel cache, watchdog, metrics and the server factory. Always global, like TypeORM's core
 * module, so `registerClients` can reach them from any module; `isGlobal` decides whether the
 * clients of `forRoot` are global too.
 */
@Global()
@Module({})
export class MsRpcCoreModule {
  static forRoot(options: MsRpcModuleOptions): DynamicModule {
    const resolved = resolveModuleOptions(options);
    return {
      module: MsRpcCoreModule,
      providers: [{ provide: MS_RPC_MODULE_OPTIONS, useValue: resolved }, ...SHARED_PROVIDERS],
      exports: EXPORTS,
    };
  }

  static forRootAsync(options: MsRpcModuleAsyncOptions): DynamicModule {
    return {
      module: MsRpcCoreModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: MS_RPC_MODULE_OPTIONS,
          useFactory: async (...args: never[]) => resolveModuleOptions(await options.useFactory(...args)),
          inject: options.inject ?? [],
        },
        ...SHARED_PROVIDERS,
      ],
      exports: EXPORTS,
    };
  }
}
