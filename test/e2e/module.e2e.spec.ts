import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Inject, Injectable, Module, type INestApplicationContext, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, ClientsModule, MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  InvalidOptionsError,
  MS_RPC_MODULE_OPTIONS,
  MsRpcClient,
  MsRpcModule,
  RpcMetrics,
  RpcTimeoutError,
  type ResolvedMsRpcModuleOptions,
} from '../../lib/index.js';
import { ChannelCache } from '../../lib/channel/channel-cache.js';
import { recordingLogger, waitUntil } from '../support/loopback-utils.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * MsRpcModule in real Nest apps, direct mode: forRoot/forRootAsync, registerClients(Async),
 * ClientsModule interop, startup validation and metrics. Health and Nacos mode live in
 * module-health.e2e.spec.ts and module-nacos.e2e.spec.ts.
 */

const quiet = recordingLogger();
/** Keeps the clients' logs out of the test output. */
const CLIENT_DEFAULTS = { logger: quiet };

/** Closes what a test opened, consumer apps first (they hold connections to the providers). */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function provider(): Promise<TestProvider> {
  const p = await startTestProvider();
  cleanup.push(() => p.close());
  return p;
}

async function consumerApp(module: Type<unknown>): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(module, { logger: false, abortOnError: false });
  cleanup.push(() => app.close());
  return app;
}

/** What NestFactory rejects with when `module` fails to start. */
async function startupError(module: () => Type<unknown>): Promise<unknown> {
  try {
    const app = await NestFactory.createApplicationContext(module(), { logger: false, abortOnError: false });
    await app.close();
  } catch (err) {
    return err;
  }
  throw new Error('the app started');
}

@Injectable()
class TwoCallers {
  constructor(
    @Inject('ECHO_A') readonly a: ClientProxy,
    @Inject('ECHO_B') readonly b: ClientProxy,
  ) {}
}

/** Stands in for @nestjs/config's ConfigService: values come from an injected provider. */
class ConfigService {
  constructor(private readonly values: Record<string, unknown>) {}
  get<T>(key: string): T {
    if (!(key in this.values)) throw new Error(`missing config ${key}`);
    return this.values[key] as T;
  }
}

describe('MsRpcModule (real Nest apps, direct mode)', () => {
  it('forRoot + registerClients: two named clients of one provider are injectable, answer, and share ONE connection', async () => {
    const p = await provider();
    @Module({
      imports: [
        MsRpcModule.forRoot({ clientDefaults: CLIENT_DEFAULTS }),
        MsRpcModule.registerClients([
          { name: 'ECHO_A', service: 'echo', providers: [p.address] },
          { name: 'ECHO_B', service: 'echo', providers: [p.address] },
        ]),
      ],
      providers: [TwoCallers],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    const { a, b } = app.get(TwoCallers);

    expect(a).toBeInstanceOf(MsRpcClient);
    expect(b).toBeInstanceOf(MsRpcClient);
    expect(a).not.toBe(b);
    await expect(firstValueFrom(a.send('echo', 'from a'))).resolves.toBe('from a');
    await expect(firstValueFrom(b.send('echo', 'from b'))).resolves.toBe('from b');
    // Same socket on the provider side: both clients' calls come from one remote address.
    const [fromA, fromB] = await Promise.all([firstValueFrom(a.send('whoami', {})), firstValueFrom(b.send('whoami', {}))]);
    expect(fromA).toBe(fromB);

    const channels = app.get(ChannelCache);
    expect(channels.size).toBe(1);
    expect(channels.addresses()).toEqual([p.address]);
    expect(channels.get(p.address)).toHaveLength(1);
    expect(p.accepted()).toBe(1);
    // Both clients report the shared connection (status), and the shared metrics count it once.
    await expect(firstValueFrom(a.status)).resolves.toBe('connected');
    await expect(firstValueFrom(b.status)).resolves.toBe('connected');
    expect(app.get(RpcMetrics).snapshot().providers).toEqual([
      expect.objectContaining({ provider: p.address, connectionsOpened: 1, openConnections: 1, succeeded: 4 }),
    ]);
    // A connection loss both clients see: one reconnect, counted once.
    p.destroySockets();
    await waitUntil(() => p.accepted() === 2 && channels.pickAvailable(p.address), 3000, 'the shared connection to come back');
    expect(app.get(RpcMetrics).snapshot().providers).toEqual([
      expect.objectContaining({ connectionsOpened: 2, connectionsClosed: 1, openConnections: 1, reconnectSuccesses: 1 }),
    ]);
    await expect(firstValueFrom(b.send('echo', 'again'))).resolves.toBe('again');

    await app.close();
    // Shutdown closed the clients and the shared cache: the provider sees its one socket go.
    expect(channels.isClosed).toBe(true);
    await waitUntil(() => p.sockets.size === 0, 2000, 'the shared connection to close');
  });

  it('forRootAsync + registerClientsAsync read their options from an injected config provider', async () => {
    const p = await provider();
    const config = new ConfigService({ 'rpc.heartbeatInterval': 250, 'rpc.timeout': 150, 'math.address': p.address });
    @Module({ providers: [{ provide: ConfigService, useValue: config }], exports: [ConfigService] })
    class ConfigModule {}
    @Module({
      imports: [
        MsRpcModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (cfg: ConfigService) => ({
            channel: { heartbeatInterval: cfg.get<number>('rpc.heartbeatInterval') },
            clientDefaults: { ...CLIENT_DEFAULTS, timeout: cfg.get<number>('rpc.timeout') },
          }),
        }),
        MsRpcModule.registerClientsAsync([
          {
            name: 'MATH',
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: async (cfg: ConfigService) => ({ service: 'math', providers: [cfg.get<string>('math.address')] }),
          },
        ]),
      ],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    const math = app.get<ClientProxy>('MATH');

    expect(app.get<ResolvedMsRpcModuleOptions>(MS_RPC_MODULE_OPTIONS).channel.heartbeatInterval).toBe(250);
    expect(app.get(ChannelCache).options.heartbeatInterval).toBe(250);
    await expect(lastValueFrom(math.send('stream', { count: 3, every: 1 }).pipe(toArray()))).resolves.toEqual([1, 2, 3]);
    // clientDefaults.timeout (150 ms, from the config) applies to the registered client.
    await expect(firstValueFrom(math.send('delay', { ms: 400, value: 'late' }))).rejects.toBeInstanceOf(RpcTimeoutError);
    expect(app.get(ChannelCache).addresses()).toEqual([p.address]);
  });

  it('ClientsModule.register with customClass: MsRpcClient works too (and closes on shutdown)', async () => {
    const p = await provider();
    @Module({
      imports: [
        ClientsModule.register([
          { name: 'ECHO', customClass: MsRpcClient, options: { service: 'echo', providers: [p.address], logger: quiet } },
        ]),
      ],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    const echo = app.get<ClientProxy>('ECHO');
    expect(echo).toBeInstanceOf(MsRpcClient);
    await expect(firstValueFrom(echo.send('echo', { n: 1 }))).resolves.toEqual({ n: 1 });
    expect(p.accepted()).toBe(1);
    await app.close();
    await waitUntil(() => p.sockets.size === 0, 2000, 'the client to close its connection');
  });

  it('createServer builds the provider from the module settings (hybrid app without an HTTP listener)', async () => {
    // Pings off (0) must not make createServer pass an invalid clientHeartbeatInterval.
    const shared = { channel: { codec: 'msgpack' as const, heartbeatInterval: 0 }, clientDefaults: CLIENT_DEFAULTS };
    @Controller()
    class SumController {
      @MessagePattern('sum')
      sum(@Payload() numbers: number[]) {
        return numbers.reduce((a, b) => a + b, 0);
      }
    }
    @Module({ imports: [MsRpcModule.forRoot(shared)], controllers: [SumController] })
    class ProviderModule {}
    const providerApp = await NestFactory.create(ProviderModule, { logger: false, abortOnError: false });
    cleanup.push(() => providerApp.close());
    const server = MsRpcModule.createServer(providerApp, { port: 0 });
    providerApp.connectMicroservice({ strategy: server });
    await providerApp.startAllMicroservices();
    await providerApp.init();

    @Module({
      imports: [
        MsRpcModule.forRoot(shared),
        MsRpcModule.registerClients([{ name: 'MATH', service: 'math', providers: [`127.0.0.1:${server.port}`] }]),
      ],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    await expect(firstValueFrom(app.get<ClientProxy>('MATH').send('sum', [1, 2, 3]))).resolves.toBe(6);
    expect(server.connectionCount).toBe(1);
  });

  describe('validation at startup (InvalidOptionsError naming the field)', () => {
    const fieldOf = (err: unknown) => (err instanceof InvalidOptionsError ? err.field : err);

    it('forRoot: a bad shared option', () => {
      let caught: unknown;
      try {
        @Module({ imports: [MsRpcModule.forRoot({ channel: { heartbeatInterval: -1 } })] })
        class AppModule {}
        void AppModule;
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidOptionsError);
      expect(fieldOf(caught)).toBe('MsRpcModule.channel.heartbeatInterval');
      expect(String((caught as Error).message)).toContain('MsRpcModule.channel.heartbeatInterval');
    });

    it('forRootAsync: a bad option from the factory rejects the app start', async () => {
      const err = await startupError(() => {
        @Module({ imports: [MsRpcModule.forRootAsync({ useFactory: () => ({ backoff: { factor: 0 } }) })] })
        class AppModule {}
        return AppModule;
      });
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect(fieldOf(err)).toMatch(/^MsRpcModule\.backoff\.factor/);
    });

    it('registerClients in direct mode without providers', async () => {
      const err = await startupError(() => {
        @Module({ imports: [MsRpcModule.forRoot(), MsRpcModule.registerClients([{ name: 'MATH', service: 'math' }])] })
        class AppModule {}
        return AppModule;
      });
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect(fieldOf(err)).toBe('MsRpcModule.registerClients[0].providers');
    });

    it('registerClients with a bad client option', async () => {
      const err = await startupError(() => {
        @Module({
          imports: [
            MsRpcModule.forRoot(),
            MsRpcModule.registerClients([{ name: 'MATH', service: 'math', providers: ['127.0.0.1:1'], timeout: -5 }]),
          ],
        })
        class AppModule {}
        return AppModule;
      });
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect(fieldOf(err)).toBe('MsRpcModule.registerClients[0].timeout');
    });

    it('createServer with a bad server option', async () => {
      @Module({ imports: [MsRpcModule.forRoot()] })
      class AppModule {}
      const app = await consumerApp(AppModule);
      expect(() => MsRpcModule.createServer(app, { port: 70_000 })).toThrow(InvalidOptionsError);
      expect(fieldOf(catchSync(() => MsRpcModule.createServer(app, { port: 70_000 })))).toBe('MsRpcServer.port');
    });
  });

  it('metrics: after N calls, k of them failing, the shared RpcMetrics counts exactly that', async () => {
    const p = await provider();
    @Module({
      imports: [
        MsRpcModule.forRoot({ clientDefaults: CLIENT_DEFAULTS }),
        MsRpcModule.registerClients([{ name: 'ECHO', service: 'echo', providers: [p.address] }]),
      ],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    const echo = app.get<ClientProxy>('ECHO');
    const ok = 7;
    const failing = 3;
    for (let i = 0; i < ok; i++) await firstValueFrom(echo.send('echo', i));
    // An unknown pattern: the provider's Hello said it has no handler for it, so the client fails
    // it without a provider (kind ERR_NO_HANDLER).
    for (let i = 0; i < failing; i++) {
      await expect(firstValueFrom(echo.send('no-such-pattern', i))).rejects.toMatchObject({ code: 'ERR_NO_HANDLER' });
    }

    const snapshot = app.get(RpcMetrics).snapshot();
    expect(snapshot.totals).toMatchObject({ started: ok + failing, succeeded: ok, failed: failing, inFlight: 0, errors: { ERR_NO_HANDLER: failing } });
    expect(snapshot.patterns.find((s) => s.pattern === 'echo')).toMatchObject({ started: ok, succeeded: ok, failed: 0 });
    expect(snapshot.patterns.find((s) => s.pattern === 'no-such-pattern')).toMatchObject({ started: failing, failed: failing });
    expect(snapshot.providers.find((s) => s.provider === p.address)).toMatchObject({ succeeded: ok, failed: 0, openConnections: 1 });

    const text = app.get(RpcMetrics).toPrometheus();
    expect(text).toContain('# TYPE msrpc_calls_started_total counter');
    expect(text).toContain(`msrpc_calls_started_total{pattern="echo"} ${ok}`);
    expect(text).toContain(`msrpc_calls_succeeded_total{pattern="echo",provider="${p.address}"} ${ok}`);
    expect(text).toContain(`msrpc_calls_failed_total{pattern="no-such-pattern",provider="__none__"} ${failing}`);
    expect(text).toContain(`msrpc_call_errors_total{pattern="no-such-pattern",provider="__none__",code="ERR_NO_HANDLER"} ${failing}`);
  });

  it('metrics: false provides no RpcMetrics and clients still work', async () => {
    const p = await provider();
    @Module({
      imports: [
        MsRpcModule.forRoot({ metrics: false, clientDefaults: CLIENT_DEFAULTS }),
        MsRpcModule.registerClients([{ name: 'ECHO', service: 'echo', providers: [p.address] }]),
      ],
    })
    class AppModule {}
    const app = await consumerApp(AppModule);
    expect(app.get(RpcMetrics, { strict: false })).toBeNull();
    await expect(firstValueFrom(app.get<ClientProxy>('ECHO').send('echo', 1))).resolves.toBe(1);
  });
});

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
