import { DynamicModule, INestApplicationContext, Logger, Module, Provider } from '@nestjs/common';
import { ChannelCache } from '../channel/channel-cache.js';
import { MsRpcClient } from '../client/ms-rpc-client.js';
import { CONNECTION_OPTION_KEYS } from '../connection/connection-options.js';
import { PROTOCOL_OPTION_KEYS } from '../protocol/protocol-options.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Registry } from '../registry/registry.js';
import { MsRpcServer } from '../server/ms-rpc-server.js';
import type { MsRpcServerOptions } from '../server/server-options.js';
import { MsRpcCoreModule } from './ms-rpc-core-module.js';
import { MsRpcServerFactory } from './ms-rpc-server-factory.js';
import {
  MsRpcClientAsyncRegistration,
  MsRpcClientRegistration,
  MsRpcModuleAsyncOptions,
  MsRpcModuleOptions,
  ResolvedMsRpcModuleOptions,
} from './ms-rpc-module-options.js';
import { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';

const SHARED = [MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY, ChannelCache, RpcMetrics];

/**
 * The Nest module of this transport:
 *
 * ```ts
 * @Module({ imports: [
 *   MsRpcModule.forRoot({ nacos: { serverList: '127.0.0.1:8848' } }),
 *   MsRpcModule.registerClients([{ name: 'MATH', service: 'math' }]),
 * ] })
 * ```
 * then `@Inject('MATH') math: ClientProxy`. Clients share the module's registry, channel cache
 * (one connection per provider, whatever the number of clients) and watchdog, and close on shutdown.
 */
@Module({})
export class MsRpcModule {
  static forRoot(options: MsRpcModuleOptions = {}): DynamicModule {
    return {
      module: MsRpcModule,
      global: options.isGlobal ?? false,
      imports: [MsRpcCoreModule.forRoot(options)],
      exports: [MsRpcCoreModule],
    };
  }

  static forRootAsync(options: MsRpcModuleAsyncOptions): DynamicModule {
    return {
      module: MsRpcModule,
      global: options.isGlobal ?? false,
      imports: [MsRpcCoreModule.forRootAsync(options)],
      exports: [MsRpcCoreModule],
    };
  }

  /** Provides one injectable ClientProxy per entry. Needs `forRoot`/`forRootAsync` somewhere in the app. */
  static registerClients(clients: MsRpcClientRegistration[]): DynamicModule {
    const providers: Provider[] = clients.map((registration) => {
      const { name, ...clientOptions } = registration;
      return {
        provide: name,
        useFactory: (...shared: SharedDeps) => createClient(clientOptions, ...shared),
        inject: SHARED,
      };
    });
    return { module: MsRpcModule, providers, exports: clients.map((c) => c.name) };
  }

  static registerClientsAsync(clients: MsRpcClientAsyncRegistration[]): DynamicModule {
    const providers: Provider[] = clients.map((registration) => ({
      provide: registration.name,
      useFactory: async (...args: unknown[]) => {
        const shared = args.slice(0, SHARED.length) as SharedDeps;
        const own = await registration.useFactory(...(args.slice(SHARED.length) as never[]));
        return createClient(own, ...shared);
      },
      inject: [...SHARED, ...(registration.inject ?? [])],
    }));
    return {
      module: MsRpcModule,
      imports: clients.flatMap((c) => c.imports ?? []),
      providers,
      exports: clients.map((c) => c.name),
    };
  }

  /**
   * A server strategy built from the module's options, for a hybrid app (an HTTP app that also
   * serves RPC): `app.connectMicroservice({ strategy: MsRpcModule.createServer(app, { port: 4100, service: 'math' }) })`.
   * A pure microservice gets the same from {@link MsRpcServerFactory} through Nest's async
   * microservice options (`NestFactory.createMicroservice(AppModule, { inject: [MsRpcServerFactory], useFactory })`).
   */
  static createServer(app: INestApplicationContext, options: Partial<MsRpcServerOptions> = {}): MsRpcServer {
    return app.get(MsRpcServerFactory, { strict: false }).create(options);
  }
}

const CHANNEL_LEVEL_KEYS = new Set<string>([
  ...PROTOCOL_OPTION_KEYS,
  ...CONNECTION_OPTION_KEYS,
  'connectionsPerProvider',
  'backoff',
  'retryStrategy',
]);

type SharedDeps = [ResolvedMsRpcModuleOptions, Registry | null, ChannelCache, RpcMetrics | null];

function createClient(
  own: Omit<MsRpcClientRegistration, 'name'>,
  options: ResolvedMsRpcModuleOptions,
  registry: Registry | null,
  channels: ChannelCache,
  metrics: RpcMetrics | null,
): MsRpcClient {
  const sources: Array<[string, object]> = [
    ['MsRpcModule.clientDefaults', options.clientDefaults],
    [`MsRpcModule.registerClients[${String(own.service)}]`, own],
  ];
  for (const [path, source] of sources) {
    for (const key of Object.keys(source)) {
      // These belong to the shared channel layer: silently ignoring them would surprise the caller.
      if (CHANNEL_LEVEL_KEYS.has(key)) {
        throw new InvalidOptionsError(
          `${path}.${key}`,
          'a channel setting: clients of the module share its channel cache, set it in forRoot({ channel / backoff })',
        );
      }
    }
  }
  const merged = {
    logger: options.logger ?? new Logger('MsRpcClient'),
    registryTimeout: options.registryTimeout,
    ...options.clientDefaults,
    ...own,
  };
  if (!merged.providers && !merged.registry) {
    if (!registry) {
      throw new InvalidOptionsError(
        `MsRpcModule.registerClients[${String(own.service)}].providers`,
        'direct mode (no `nacos`/`registry` in forRoot) needs the provider addresses of each client',
      );
    }
    merged.registry = registry;
  }
  return new MsRpcClient(merged, { channels, metrics: metrics ?? undefined });
}
