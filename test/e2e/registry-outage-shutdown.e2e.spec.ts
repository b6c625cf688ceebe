import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Server as NetServer } from 'node:net';
import { Controller, Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, MessagePattern, type MicroserviceOptions } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { MsRpcModule, MsRpcServer, RpcTimeoutError } from '../../lib/index.js';
import { startBlackHole, type BlackHole } from '../support/black-hole-server.js';
import { FAST_BEATS, FAST_NACOS, NestLogRecorder } from '../support/nacos-discovery-fixture.js';
import { recordingLogger, waitFor } from '../support/nacos-test-helpers.js';
import { NacosTestServer, NacosGrpcTestServer } from '../../lib/testing/index.js';

/**
 * app.close() of a real Nest app registered in Nacos, once every Nacos node has gone: down
 * (connections refused) or a black hole (accepts, never answers; the nacos client then waits 5 s
 * per server). The default registryTimeout (3 s) bounds each registry call of the shutdown, so the
 * server stops accepting and drains on time whatever Nacos does.
 */

const SERVICE = 'svc';
const REGISTRY_TIMEOUT = 3000;

@Controller()
class ProviderController {
  @MessagePattern('whoami')
  whoami() {
    return 'provider';
  }
}

@Injectable()
class Caller {
  constructor(@Inject('OTHER') readonly other: ClientProxy) {}
}

describe.each(['http', 'grpc'] as const)('app.close() with every Nacos node gone (protocol %s)', (protocol) => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Two Nacos nodes, both stopped, then (for 'black hole') replaced by black holes on their ports. */
  async function nacosCluster() {
    const nodes =
      protocol === 'http'
        ? [new NacosTestServer(FAST_NACOS), new NacosTestServer(FAST_NACOS)]
        : [new NacosGrpcTestServer(), new NacosGrpcTestServer()];
    for (const node of nodes) await node.start();
    cleanups.push(() => Promise.all(nodes.map((n) => n.stop())));
    const holes: BlackHole[] = [];
    cleanups.push(() => Promise.all(holes.map((h) => h.close())));
    return {
      nodes,
      serverList: nodes.map((n) => n.address),
      holes,
      async fail(how: 'down' | 'black hole') {
        for (const node of nodes) await node.stop();
        if (how !== 'black hole') return;
        for (const node of nodes) {
          // The port the registry speaks to: HTTP on the main port, gRPC on main + 1000.
          holes.push(await startBlackHole({ port: node instanceof NacosGrpcTestServer ? node.grpcPort : node.port }));
        }
      },
    };
  }

  /** A hybrid app (HTTP + MsRpcServer) registered through MsRpcModule's Nacos registry, with a client of another service. */
  async function providerApp(serverList: string[]) {
    const logs = new NestLogRecorder();
    @Module({
      imports: [
        MsRpcModule.forRoot({ nacos: { serverList, protocol, logger: recordingLogger() }, clientDefaults: { logger: recordingLogger(), snapshotDir: false, timeout: 1000 } }),
        MsRpcModule.registerClients([{ name: 'OTHER', service: 'other' }]),
      ],
      controllers: [ProviderController],
      providers: [Caller],
    })
    class ProviderModule {}
    const app: INestApplication = await NestFactory.create(ProviderModule, { logger: logs, abortOnError: false });
    let closed = false;
    cleanups.push(() => (closed ? undefined : app.close()));
    const strategy = MsRpcModule.createServer(app, { service: SERVICE, port: 0, metadata: { ...FAST_BEATS }, shutdownTimeout: 2000 });
    app.connectMicroservice<MicroserviceOptions>({ strategy });
    await app.startAllMicroservices();
    await app.init();
    const net = strategy.unwrap<NetServer>();
    let stoppedAcceptingAt: number | undefined;
    const netClose = net.close.bind(net);
    jest.spyOn(net, 'close').mockImplementation((callback) => {
      stoppedAcceptingAt ??= performance.now();
      return netClose(callback);
    });
    return {
      app,
      strategy: strategy as MsRpcServer,
      logs,
      /** app.close(), timed: when the server stopped accepting (drain start) and when close() returned. */
      async close(): Promise<{ drainAfter: number; closeMs: number }> {
        const started = performance.now();
        await app.close();
        closed = true;
        return { drainAfter: stoppedAcceptingAt! - started, closeMs: performance.now() - started };
      },
    };
  }

  it.each([['down'], ['black hole']] as const)('Nacos %s: draining starts within registryTimeout; app.close() is bounded', async (how) => {
    const nacos = await nacosCluster();
    const provider = await providerApp(nacos.serverList);
    await waitFor(() => provider.strategy.registered, 3000, 'registration');
    expect(nacos.nodes.flatMap((n): unknown[] => n.instances(SERVICE))).toHaveLength(1);

    await nacos.fail(how);
    const { drainAfter, closeMs } = await provider.close();
    console.info(`[registry-timeout] Nacos ${how} (2 nodes): app.close() took ${Math.round(closeMs)} ms, draining started after ${Math.round(drainAfter)} ms (registryTimeout ${REGISTRY_TIMEOUT})`);

    const deregisterFailure = provider.logs.matching('error', /^deregistering svc@127\.0\.0\.1:\d+ in nacos failed: /);
    if (protocol === 'grpc') {
      // A disconnected gRPC registry has nothing to tell Nacos (its instances died with the
      // connection): deregistering is local, and the shutdown does not wait for Nacos at all.
      expect(deregisterFailure).toEqual([]);
      expect(drainAfter).toBeLessThan(1000);
      expect(closeMs).toBeLessThan(1500);
      return;
    }
    expect(deregisterFailure).toHaveLength(1);
    if (how === 'down') {
      // Refused at once: nothing to wait for.
      expect(drainAfter).toBeLessThan(1000);
      expect(closeMs).toBeLessThan(1500);
      expect(deregisterFailure[0]).toMatch(/Nacos deregister DEFAULT_GROUP@@svc 127\.0\.0\.1:\d+ failed/);
    } else {
      // The nacos client would wait 5 s per node (10 s here): the server waits registryTimeout, and says what timed out.
      expect(nacos.holes.reduce((n, h) => n + h.accepted(), 0)).toBeGreaterThan(0);
      expect(drainAfter).toBeGreaterThanOrEqual(REGISTRY_TIMEOUT - 50);
      expect(drainAfter).toBeLessThan(REGISTRY_TIMEOUT + 700);
      expect(closeMs).toBeLessThan(REGISTRY_TIMEOUT + 1500);
      expect(deregisterFailure[0]).toMatch(/Registry call timed out after 3000 ms: deregister svc@127\.0\.0\.1:\d+ in nacos$/);
    }
  });

  it('a client whose first subscription hangs (black hole) fails its call on time and closes within registryTimeout', async () => {
    const nacos = await nacosCluster();
    const provider = await providerApp(nacos.serverList);
    await waitFor(() => provider.strategy.registered, 3000, 'registration');
    await nacos.fail('black hole');

    // The first call starts discovery of 'other': the subscription hangs, the call fails at its own timeout.
    const started = performance.now();
    const error = await firstValueFrom(provider.app.get(Caller).other.send('anything', {})).catch((err: unknown) => err);
    const failedAfter = performance.now() - started;
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect(failedAfter).toBeLessThan(1000 + 500);
    const { drainAfter, closeMs } = await provider.close();
    console.info(
      `[registry-timeout] black hole, with a hung subscription: call failed after ${Math.round(failedAfter)} ms, ` +
        `app.close() took ${Math.round(closeMs)} ms (draining after ${Math.round(drainAfter)} ms)`,
    );
    expect(drainAfter).toBeLessThan(REGISTRY_TIMEOUT + 700);
    // Deregistration and the registry's close are bounded by registryTimeout each; the hung subscription adds no wait.
    expect(closeMs).toBeLessThan(2 * REGISTRY_TIMEOUT + 1500);
  });
});
