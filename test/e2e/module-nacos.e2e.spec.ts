import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Server as NetServer } from 'node:net';
import { Controller, Get, Inject, Injectable, Module, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, MessagePattern, type MicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { MS_RPC_REGISTRY, MsRpcClient, MsRpcModule, MsRpcServer, type Registry } from '../../lib/index.js';
import { FAST_BEATS, FAST_NACOS } from '../support/nacos-discovery-fixture.js';
import { recordingLogger, waitFor } from '../support/nacos-test-helpers.js';
import { NacosTestServer, NacosGrpcTestServer } from '../../lib/testing/index.js';

/**
 * Nacos mode through MsRpcModule: a HYBRID provider app (HTTP + MsRpcServer from createServer)
 * registers with the module's NacosRegistry, a consumer app discovers and calls it, and the
 * provider's app.close() deregisters before it stops accepting and before the registry closes.
 */

const SERVICE = 'svc';
const quiet = recordingLogger();

@Controller()
class ProviderController {
  @MessagePattern('whoami')
  whoami() {
    return 'hybrid-provider';
  }

  @Get('ping')
  ping() {
    return { pong: true };
  }
}

@Injectable()
class Caller {
  constructor(@Inject('SVC') readonly svc: ClientProxy) {}
}

describe('MsRpcModule in Nacos mode (hybrid provider app, consumer app)', () => {
  let nacos: NacosTestServer | undefined;
  const apps: Array<INestApplicationContext> = [];

  let grpcNacos: NacosGrpcTestServer | undefined;

  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
    await nacos?.stop();
    nacos = undefined;
    await grpcNacos?.stop();
    grpcNacos = undefined;
  });

  it('speaks gRPC by default: registers, is discovered and called, deregisters before it stops accepting', async () => {
    grpcNacos = new NacosGrpcTestServer({ pushDelayMs: 20, subscribePushDelayMs: 20 });
    await grpcNacos.start();
    const nacosOptions = { serverList: [grpcNacos.address], logger: quiet };

    @Module({ imports: [MsRpcModule.forRoot({ nacos: nacosOptions })], controllers: [ProviderController] })
    class GrpcProviderModule {}
    const app: INestApplication = await NestFactory.create(GrpcProviderModule, { logger: false, abortOnError: false });
    apps.push(app);
    const strategy = MsRpcModule.createServer(app, { service: SERVICE, port: 0, shutdownTimeout: 2000 });
    app.connectMicroservice<MicroserviceOptions>({ strategy });
    await app.startAllMicroservices();
    await waitFor(() => strategy.registered, 3000, 'registration');
    expect(grpcNacos.instances(SERVICE)).toMatchObject([{ ip: '127.0.0.1', port: strategy.port }]);
    expect(grpcNacos.connections()[0]).toMatchObject({ naming: true, labels: { module: 'naming' } });

    @Module({
      imports: [
        MsRpcModule.forRoot({ nacos: nacosOptions, clientDefaults: { logger: quiet, snapshotDir: false, timeout: 2000 } }),
        MsRpcModule.registerClients([{ name: 'SVC', service: SERVICE }]),
      ],
      providers: [Caller],
    })
    class GrpcConsumerModule {}
    const consumer = await NestFactory.createApplicationContext(GrpcConsumerModule, { logger: false, abortOnError: false });
    apps.push(consumer);
    await expect(firstValueFrom(consumer.get(Caller).svc.send('whoami', {}))).resolves.toBe('hybrid-provider');

    const net = strategy.unwrap<NetServer>();
    const netClose = net.close.bind(net);
    let listedWhenClosing: number | undefined;
    jest.spyOn(net, 'close').mockImplementation((callback) => {
      listedWhenClosing = grpcNacos!.instances(SERVICE).length;
      return netClose(callback);
    });
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    expect(listedWhenClosing).toBe(0);
    expect(grpcNacos.received('InstanceRequest').map((p) => p.body.type)).toEqual(['registerInstance', 'deregisterInstance']);
  });

  it('registers, is discovered and called, and deregisters before it stops accepting and before the registry closes', async () => {
    nacos = new NacosTestServer(FAST_NACOS);
    await nacos.start();
    const serverList = [nacos.address];
    const nacosOptions = { serverList, protocol: 'http' as const, logger: quiet };

    // --- provider: HTTP app + RPC microservice, both from one Nest app ---
    @Module({ imports: [MsRpcModule.forRoot({ nacos: nacosOptions })], controllers: [ProviderController] })
    class ProviderModule {}
    const provider: INestApplication = await NestFactory.create(ProviderModule, { logger: false, abortOnError: false });
    apps.push(provider);
    const strategy = MsRpcModule.createServer(provider, { service: SERVICE, port: 0, metadata: { ...FAST_BEATS }, shutdownTimeout: 2000 });
    expect(strategy).toBeInstanceOf(MsRpcServer);
    provider.connectMicroservice<MicroserviceOptions>({ strategy });
    await provider.startAllMicroservices();
    await provider.listen(0, '127.0.0.1');
    const httpUrl = (await provider.getUrl()).replace('[::1]', '127.0.0.1');
    await expect((await fetch(`${httpUrl}/ping`)).json()).resolves.toEqual({ pong: true });

    await waitFor(() => strategy.registered, 3000, 'registration');
    const [stored] = nacos.instances(SERVICE);
    expect(stored).toMatchObject({ ip: '127.0.0.1', port: strategy.port, healthy: true });
    expect(JSON.parse(stored.metadata.patterns)).toEqual(['whoami']);

    // --- consumer: discovers the provider through its own module registry ---
    @Module({
      imports: [
        MsRpcModule.forRoot({ nacos: nacosOptions, clientDefaults: { logger: quiet, snapshotDir: false, timeout: 2000 } }),
        MsRpcModule.registerClients([{ name: 'SVC', service: SERVICE }]),
      ],
      providers: [Caller],
    })
    class ConsumerModule {}
    const consumer = await NestFactory.createApplicationContext(ConsumerModule, { logger: false, abortOnError: false });
    apps.push(consumer);
    await expect(firstValueFrom(consumer.get(Caller).svc.send('whoami', {}))).resolves.toBe('hybrid-provider');

    // --- shutdown order, observed from the outside: Nacos request, net.Server.close, registry.close ---
    const events: Array<{ what: string; at: number; registered?: number }> = [];
    const requests = nacos.requests;
    const logRequest = requests.push.bind(requests);
    requests.push = (...entries) => {
      for (const e of entries) {
        if (e.method === 'DELETE' && e.path === '/nacos/v1/ns/instance') events.push({ what: 'deregister', at: performance.now() });
      }
      return logRequest(...entries);
    };
    const net = strategy.unwrap<NetServer>();
    const netClose = net.close.bind(net);
    jest.spyOn(net, 'close').mockImplementation((callback) => {
      events.push({ what: 'stop accepting', at: performance.now(), registered: nacos!.instances(SERVICE).length });
      return netClose(callback);
    });
    const registry = provider.get<Registry>(MS_RPC_REGISTRY);
    const registryClose = registry.close.bind(registry);
    const closeSpy = jest.spyOn(registry, 'close').mockImplementation(async () => {
      events.push({ what: 'registry close', at: performance.now() });
      return registryClose();
    });

    await provider.close();
    apps.splice(apps.indexOf(provider), 1);

    expect(events.map((e) => e.what)).toEqual(['deregister', 'stop accepting', 'registry close']);
    expect(events[0].at).toBeLessThanOrEqual(events[1].at);
    expect(events[1].at).toBeLessThanOrEqual(events[2].at);
    // Nacos no longer listed the provider when it stopped accepting.
    expect(events[1].registered).toBe(0);
    expect(closeSpy).toHaveBeenCalledTimes(1);
    expect(nacos.instances(SERVICE)).toEqual([]);
    // The consumer's connection went with the provider's GoAway. (Its directory keeps the last
    // provider of an emptied list on purpose: empty-push protection.)
    const client = consumer.get(Caller).svc as MsRpcClient;
    await waitFor(() => client.readyProviderCount() === 0, 3000, 'the consumer to lose its connection');
  });
});
