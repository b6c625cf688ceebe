import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Inject, Injectable, Module, type INestApplicationContext, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, MessagePattern, Payload, type AsyncMicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { FrameTooLargeError, MsRpcModule, MsRpcServer, MsRpcServerFactory, type MsRpcModuleOptions } from '../../lib/index.js';
import { recordingLogger, waitFor } from '../support/nacos-test-helpers.js';
import { NacosGrpcTestServer } from '../../lib/testing/index.js';

/**
 * A pure provider: `NestFactory.createMicroservice(AppModule, { inject: [MsRpcServerFactory], useFactory })`,
 * Nest's async microservice options, no HTTP app. The server comes from MsRpcModule's configuration:
 * its protocol limits in direct mode, its registry (register on listen, deregister on close) in Nacos mode.
 */

const SERVICE = 'math';
const quiet = recordingLogger();

@Controller()
class MathController {
  @MessagePattern('math.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('math.length')
  length(@Payload() text: string): number {
    return text.length;
  }
}

@Injectable()
class Caller {
  constructor(@Inject('MATH') readonly math: ClientProxy) {}
}

const apps: INestApplicationContext[] = [];
let nacos: NacosGrpcTestServer | undefined;

afterEach(async () => {
  for (const app of apps.splice(0).reverse()) await app.close();
  await nacos?.stop();
  nacos = undefined;
});

/** The provider exactly as an application writes it: Nest's async microservice options. */
async function pureProvider(rpc: MsRpcModuleOptions, server: { service?: string } = {}): Promise<INestMicroservice> {
  @Module({ imports: [MsRpcModule.forRoot(rpc)], controllers: [MathController] })
  class ProviderModule {}
  const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(ProviderModule, {
    logger: false,
    abortOnError: false,
    inject: [MsRpcServerFactory],
    useFactory: (servers: MsRpcServerFactory) => ({ strategy: servers.create({ host: '127.0.0.1', port: 0, shutdownTimeout: 2000, ...server }) }),
  });
  apps.push(app);
  await app.listen();
  return app;
}

async function consumer(rpc: MsRpcModuleOptions, client: { providers?: string[] }): Promise<Caller> {
  @Module({
    imports: [MsRpcModule.forRoot(rpc), MsRpcModule.registerClients([{ name: 'MATH', service: SERVICE, timeout: 2000, ...client }])],
    providers: [Caller],
  })
  class ConsumerModule {}
  const app = await NestFactory.createApplicationContext(ConsumerModule, { logger: false, abortOnError: false });
  apps.push(app);
  return app.get(Caller);
}

describe('a pure microservice provider from MsRpcModule (Nest async microservice options)', () => {
  it('direct mode: the server takes the module channel settings (codec, frame limit) and serves calls', async () => {
    const LIMIT = 64 * 1024;
    const app = await pureProvider({ channel: { codec: 'msgpack', maxFrameSize: LIMIT, maxBodySize: LIMIT } });
    const server = app.getTransportServer() as MsRpcServer;
    expect(server).toBeInstanceOf(MsRpcServer);
    expect(server.port).toBeGreaterThan(0);

    // The consumer speaks msgpack too, but keeps the default 8 MiB frame limit.
    const { math } = await consumer({ channel: { codec: 'msgpack' }, clientDefaults: { logger: quiet } }, { providers: [`127.0.0.1:${server.port}`] });
    await expect(firstValueFrom(math.send('math.sum', [1, 2, 3]))).resolves.toBe(6);
    // The provider announced the module's 64 KiB limit in its Hello: a larger request fails at once, typed.
    const err = await firstValueFrom(math.send('math.length', 'x'.repeat(100 * 1024))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect((err as FrameTooLargeError).limit).toBe(LIMIT);
    await expect(firstValueFrom(math.send('math.length', 'x'.repeat(1000)))).resolves.toBe(1000);
  });

  it('Nacos mode: registers with the module registry once listening, is discovered, deregisters on close', async () => {
    nacos = new NacosGrpcTestServer({ pushDelayMs: 20, subscribePushDelayMs: 20 });
    await nacos.start();
    const rpc: MsRpcModuleOptions = { nacos: { serverList: [nacos.address], logger: quiet } };
    const app = await pureProvider(rpc, { service: SERVICE });
    const server = app.getTransportServer() as MsRpcServer;
    await waitFor(() => server.registered, 3000, 'registration');
    expect(nacos.instances(SERVICE)).toMatchObject([{ ip: '127.0.0.1', port: server.port }]);

    const { math } = await consumer({ ...rpc, clientDefaults: { logger: quiet, snapshotDir: false } }, {});
    await expect(firstValueFrom(math.send('math.sum', [4, 5]))).resolves.toBe(9);

    const providerConnections = nacos.connections().length;
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    expect(nacos.instances(SERVICE)).toEqual([]);
    expect(nacos.received('InstanceRequest').map((p) => p.body.type)).toEqual(['registerInstance', 'deregisterInstance']);
    // The module closed the registry it built (after the server deregistered): its connection is gone.
    await waitFor(() => nacos!.connections().length === providerConnections - 1, 3000, 'the provider registry connection to close');
  });
});
