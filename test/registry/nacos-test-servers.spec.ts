import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { NacosRegistry } from '../../lib/registry/nacos-registry.js';
import { startNacosTestServers, type NacosTestServers } from '../../lib/testing/index.js';
import { recordingLogger } from '../support/nacos-test-helpers.js';

const FAST_GRPC = { healthCheckInterval: 300, healthCheckTimeout: 500, requestTimeout: 1500, redoInterval: 300, reconnectMaxDelay: 300 };

/** `startNacosTestServers` of `nestjs-ms-rpc/testing`: both protocols on one address, as `npm run nacos:test-server` runs them. */
describe('startNacosTestServers', () => {
  let servers: NacosTestServers | undefined;
  const registries: NacosRegistry[] = [];

  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.close()));
    await servers?.stop();
    servers = undefined;
  });

  const registry = (serverList: string, protocol: 'http' | 'grpc', auth: { username?: string; password?: string } = {}) => {
    const r = new NacosRegistry({ serverList, protocol, logger: recordingLogger(), grpc: FAST_GRPC, ...auth });
    registries.push(r);
    return r;
  };

  it('serves the HTTP API on P and gRPC on P + 1000, one serverList for both protocols', async () => {
    servers = await startNacosTestServers();
    expect(servers.serverList).toBe(`127.0.0.1:${servers.http.port}`);
    expect(servers.grpc.grpcPort).toBe(servers.http.port + 1000);
    expect(servers.grpc.address).toBe(servers.serverList);

    await registry(servers.serverList, 'grpc').register({ service: 'math', host: '127.0.0.1', port: 4100 });
    await registry(servers.serverList, 'http').register({ service: 'math', host: '127.0.0.1', port: 4200 });
    // Separate stores, as documented: each protocol sees its own provider.
    expect((await registry(servers.serverList, 'grpc').getInstances('math')).map((i) => i.port)).toEqual([4100]);
    expect(servers.grpc.store.instances('public', 'DEFAULT_GROUP@@math').map((i) => i.port)).toEqual([4100]);
    expect(servers.http.instances('math').map((i) => i.port)).toEqual([4200]);
  });

  it('with a username, both protocols authenticate through the HTTP login', async () => {
    servers = await startNacosTestServers({ username: 'nacos', password: 'secret', grpc: { pushDelayMs: 50 } });
    await expect(registry(servers.serverList, 'grpc', { username: 'nacos', password: 'wrong' }).register({ service: 'a', host: '127.0.0.1', port: 4100 })).rejects.toThrow(/403|auth|login/i);
    await registry(servers.serverList, 'grpc', { username: 'nacos', password: 'secret' }).register({ service: 'a', host: '127.0.0.1', port: 4100 });
    await registry(servers.serverList, 'http', { username: 'nacos', password: 'secret' }).register({ service: 'a', host: '127.0.0.1', port: 4200 });
    expect(servers.grpc.store.instances('public', 'DEFAULT_GROUP@@a').map((i) => i.port)).toEqual([4100]);
    expect(servers.http.instances('a').map((i) => i.port)).toEqual([4200]);
  });

  it('stop() closes both ports', async () => {
    servers = await startNacosTestServers();
    const { port } = servers.http;
    await servers.stop();
    servers = undefined;
    for (const p of [port, port + 1000]) {
      await expect(
        new Promise((resolve, reject) => {
          const socket = net.connect(p, '127.0.0.1', () => resolve(socket.destroy()));
          socket.on('error', reject);
        }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    }
  });
});
