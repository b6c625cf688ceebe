import { DynamicModule, INestApplicationContext, Logger, Module, Provider } from '@nestjs/common';
import { ChannelCache } from '../channel/channel-cache.js';
import { MsRpcClient } from '../client/ms-rpc-client.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Registry } from '../registry/registry.js';
import { MsRpcServer } from '../server/ms-rpc-server.js';
import type { MsRpcServerOptions } from '../server/server-options.js';
import { MsRpcCoreModule } from './ms-rpc-core-module.js';
import { MsRpcServerFactory } from './ms-rpc-server-factory.js';
import {
  checkClientRegistration,
  MsRpcClientAsyncRegistration,
  MsRpcClientRegistration,
  MsRpcModuleAsyncOptions,
  MsRpcModuleOptions,
  ResolvedMsRpcModuleOptions,
} from './ms-rpc-module-options.js';
import { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';

/**
 * What registered clients share, from forRoot's core module. Optional, so that registerClients
 * without forRoot gets an error that says so rather than Nest's bare "can't resolve
 * Symbol(MS_RPC_MODULE_OPTIONS)".
 */
const SHARED = [MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY, ChannelCache, RpcMetrics].map((token) => ({ token, optional: true }));

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
    // Validates first (whatever plain JavaScript passed), then reads isGlobal.
    const core = MsRpcCoreModule.forRoot(options);
    return {
      module: MsRpcModule,
      global: options.isGlobal ?? false,
      imports: [core],
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

  /**
   * Provides one injectable ClientProxy per entry. Needs `forRoot`/`forRootAsync` somewhere in the
   * app. Entries are validated here, at import: errors name `MsRpcModule.registerClients[i].field`.
   */
  static registerClients(clients: MsRpcClientRegistration[]): DynamicModule {
    checkClientList(clients, 'MsRpcModule.registerClients');
    const providers: Provider[] = clients.map((registration, i) => {
      checkClientRegistration(registration, `MsRpcModule.registerClients[${i}]`, true);
      const { name, ...clientOptions } = registration;
      return {
        provide: name,
        useFactory: (...shared: SharedDeps) => createClient(clientOptions, `MsRpcModule.registerClients[${i}]`, ...shared),
        inject: SHARED,
      };
    });
    return { module: MsRpcModule, providers, exports: clients.map((c) => c.name) };
  }

  /** As registerClients; what each factory returns is validated as `MsRpcModule.registerClientsAsync[i]`. */
  static registerClientsAsync(clients: MsRpcClientAsyncRegistration[]): DynamicModule {
    checkClientList(clients, 'MsRpcModule.registerClientsAsync');
    const providers: Provider[] = clients.map((registration, i) => ({
      provide: registration.name,
      useFactory: async (...args: unknown[]) => {
        const shared = args.slice(0, SHARED.length) as SharedDeps;
        const path = `MsRpcModule.registerClientsAsync[${i}]`;
        const own = await registration.useFactory(...(args.slice(SHARED.length) as never[]));
        checkClientRegistration(own, path, false);
        return createClient(own, path, ...shared);
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

type SharedDeps = [ResolvedMsRpcModuleOptions | undefined, Registry | null | undefined, ChannelCache | undefined, RpcMetrics | null | undefined];

function checkClientList(clients: unknown, path: string): void {
  if (!Array.isArray(clients)) throw new InvalidOptionsError(path, 'expected an array of client registrations');
}

/** `path` names the registration in errors (`MsRpcModule.registerClients[0]`). */
function createClient(
  own: Omit<MsRpcClientRegistration, 'name'>,
  path: string,
  options: ResolvedMsRpcModuleOptions | undefined,
  registry: Registry | null | undefined,
  channels: ChannelCache | undefined,
  metrics: RpcMetrics | null | undefined,
): MsRpcClient {
  if (options === undefined || channels === undefined) {
    throw new InvalidOptionsError(
      path,
      'MsRpcModule.registerClients needs MsRpcModule.forRoot() (or forRootAsync()): import it in the application, ' +
        'e.g. in the root module: imports: [MsRpcModule.forRoot({ ... }), MsRpcModule.registerClients([...])]',
    );
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
        `${path}.providers`,
        'direct mode (no `nacos`/`registry` in forRoot) needs the provider addresses of each client',
      );
    }
    merged.registry = registry;
  }
  return new MsRpcClient(merged, { channels, metrics: metrics ?? undefined });
}
