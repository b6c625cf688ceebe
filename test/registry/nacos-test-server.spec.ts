import { afterEach, describe, expect, it } from '@jest/globals';
import dgram from 'node:dgram';
import http from 'node:http';
import type { NamingClient } from '../../lib/registry/nacos-naming-client.js';
import { NacosTestPusher, loopbackTarget } from '../../lib/testing/nacos-test-push.js';
import { NacosTestServer, type NacosTestServerOptions } from '../../lib/testing/index.js';
import { nacosHttp, sleep, testNamingClient, waitFor } from '../support/nacos-test-helpers.js';

const INSTANCE = '/nacos/v1/ns/instance';
const LIST = '/nacos/v1/ns/instance/list';
const BEAT = '/nacos/v1/ns/instance/beat';

/** Parameters exactly as nacos-naming's NameProxy#registerService sends them. */
function registerParams(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    namespaceId: 'public',
    serviceName: 'DEFAULT_GROUP@@orders',
    groupName: 'DEFAULT_GROUP',
    clusterName: 'DEFAULT',
    ip: '127.0.0.1',
    port: String(port),
    weight: '1',
    enable: 'true',
    healthy: 'true',
    ephemeral: 'true',
    metadata: JSON.stringify({ version: '1.2.0', shard: 3 }),
    ...extra,
  };
}

describe('NacosTestServer', () => {
  let server: NacosTestServer | undefined;
  const clients: NamingClient[] = [];
  const sockets: dgram.Socket[] = [];

  async function startServer(options: NacosTestServerOptions = {}): Promise<NacosTestServer> {
    server = new NacosTestServer(options);
    await server.start();
    return server;
  }

  function client(s: NacosTestServer, config?: Parameters<typeof testNamingClient>[1]): NamingClient {
    const c = testNamingClient(s, config);
    clients.push(c);
    return c;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await server?.stop();
    server = undefined;
  });

  it('answers /instance/list with the exact ServiceInfo document, echoing clusters', async () => {
    const s = await startServer();
    expect((await nacosHttp(s, 'POST', INSTANCE, registerParams(4000))).body).toBe('ok');

    const list = await nacosHttp(s, 'GET', LIST, { namespaceId: 'public', serviceName: 'DEFAULT_GROUP@@orders', clusters: 'DEFAULT', udpPort: 0, healthyOnly: false });
    expect(list.status).toBe(200);
    expect(list.json()).toEqual({
      name: 'DEFAULT_GROUP@@orders',
      groupName: 'DEFAULT_GROUP',
      clusters: 'DEFAULT',
      cacheMillis: 10000,
      hosts: [
        {
          instanceId: '127.0.0.1#4000#DEFAULT#DEFAULT_GROUP@@orders',
          ip: '127.0.0.1',
          port: 4000,
          weight: 1,
          healthy: true,
          enabled: true,
          ephemeral: true,
          clusterName: 'DEFAULT',
          serviceName: 'DEFAULT_GROUP@@orders',
          metadata: { version: '1.2.0', shard: '3' },
          instanceHeartBeatInterval: 5000,
          instanceHeartBeatTimeOut: 15000,
          ipDeleteTimeout: 30000,
          instanceIdGenerator: 'simple',
        },
      ],
      lastRefTime: expect.any(Number),
      checksum: '',
      allIPs: false,
      reachProtectionThreshold: false,
      valid: true,
    });

    const all = (await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', clusters: '' })).json();
    expect(all.clusters).toBe('');
    expect(all.hosts).toHaveLength(1);
    const other = (await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', clusters: 'hz,sh' })).json();
    expect(other.clusters).toBe('hz,sh');
    expect(other.hosts).toEqual([]);
  });

  it('serves the real client: register, list with boolean health, deregister', async () => {
    const s = await startServer();
    const c = client(s);
    await c.registerInstance('orders', { ip: '127.0.0.1', port: 4001, metadata: { zone: 'a' } }, 'DEFAULT_GROUP');
    const hosts = await c.getAllInstances('orders', 'DEFAULT_GROUP', 'DEFAULT', false);
    expect(hosts).toHaveLength(1);
    expect(hosts[0]).toMatchObject({ ip: '127.0.0.1', port: 4001, healthy: true, enabled: true, metadata: { zone: 'a' } });
    expect(s.requests.find((r) => r.method === 'POST')?.params).toMatchObject({ serviceName: 'DEFAULT_GROUP@@orders', enable: 'true' });

    await c.deregisterInstance('orders', { ip: '127.0.0.1', port: 4001 }, 'DEFAULT_GROUP');
    expect(s.instances('orders')).toEqual([]);
    expect((await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', clusters: '' })).json().hosts).toEqual([]);
  });

  it('isolates namespaces and groups', async () => {
    const s = await startServer();
    const pub = client(s);
    const dev = client(s, { namespace: 'dev' });
    await pub.registerInstance('orders', { ip: '127.0.0.1', port: 4001 }, 'DEFAULT_GROUP');
    await dev.registerInstance('orders', { ip: '127.0.0.1', port: 4002 }, 'DEFAULT_GROUP');
    await pub.registerInstance('orders', { ip: '127.0.0.1', port: 4003 }, 'BLUE');

    expect(s.instances('orders').map((i) => i.port)).toEqual([4001]);
    expect(s.instances('orders', { namespace: 'dev' }).map((i) => i.port)).toEqual([4002]);
    expect(s.instances('orders', { group: 'BLUE' }).map((i) => i.port)).toEqual([4003]);
    expect((await dev.getAllInstances('orders', 'DEFAULT_GROUP', 'DEFAULT', false)).map((h) => h.port)).toEqual([4002]);
    expect((await pub.getAllInstances('orders', 'BLUE', 'DEFAULT', false)).map((h) => h.port)).toEqual([4003]);
  });

  it('drops disabled hosts from lists but keeps unhealthy ones', async () => {
    const s = await startServer();
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4002));
    await nacosHttp(s, 'PUT', INSTANCE, { serviceName: 'DEFAULT_GROUP@@orders', ip: '127.0.0.1', port: 4002, enabled: 'false' });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4003, { healthy: 'false' }));
    const hosts = (await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', clusters: '' })).json().hosts;
    expect(hosts.map((h: { port: number; healthy: boolean }) => [h.port, h.healthy])).toEqual([
      [4001, true],
      [4003, false],
    ]);
  });

  it('restarts on the same port, keeping state unless wiped; a beat payload re-registers', async () => {
    const s = await startServer({ clientBeatIntervalMs: 1234 });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    const port = s.port;
    await s.stop();
    await s.start();
    expect(s.port).toBe(port);
    expect(s.instances('orders')).toHaveLength(1);

    await s.stop();
    await s.start({ wipe: true });
    expect(s.port).toBe(port);
    expect(s.instances('orders')).toEqual([]);

    const light = await nacosHttp(s, 'PUT', BEAT, { serviceName: 'DEFAULT_GROUP@@orders', ip: '127.0.0.1', port: 4001 });
    expect(light.json()).toEqual({ clientBeatInterval: 1234, code: 20404, lightBeatEnabled: true });

    const beat = { serviceName: 'DEFAULT_GROUP@@orders', ip: '127.0.0.1', port: 4001, cluster: 'DEFAULT', weight: 2, metadata: { v: '9' }, scheduled: true };
    const full = await nacosHttp(s, 'PUT', BEAT, { beat: JSON.stringify(beat), namespaceId: 'public', serviceName: beat.serviceName });
    expect(full.json()).toEqual({ clientBeatInterval: 1234, code: 10200, lightBeatEnabled: true });
    expect(s.instances('orders')).toMatchObject([{ port: 4001, weight: 2, healthy: true, clusterName: 'DEFAULT', metadata: { v: '9' } }]);
  });

  it('marks a silent ephemeral instance unhealthy, then removes it; beats and overrides keep others', async () => {
    const s = await startServer({ heartbeatTimeoutMs: 150, deleteTimeoutMs: 400 });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4002, { metadata: JSON.stringify({ 'preserved.heart.beat.timeout': '5000', 'preserved.ip.delete.timeout': '10000' }) }));
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4003, { ephemeral: 'false' }));
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4004));
    const beating = setInterval(() => void nacosHttp(s, 'PUT', BEAT, { serviceName: 'DEFAULT_GROUP@@orders', ip: '127.0.0.1', port: 4004 }), 40);
    try {
      await waitFor(() => s.instances('orders').find((i) => i.port === 4001)?.healthy === false, 2000, 'unhealthy');
      expect(s.instances('orders').find((i) => i.port === 4002)?.healthy).toBe(true);
      await waitFor(() => !s.instances('orders').some((i) => i.port === 4001), 2000, 'removal');
      expect(s.instances('orders').map((i) => [i.port, i.healthy])).toEqual([
        [4002, true],
        [4003, true],
        [4004, true],
      ]);
    } finally {
      clearInterval(beating);
    }
  });

  it('rejects naming calls with wrong or missing credentials (403); the client sends them as query params', async () => {
    const s = await startServer({ username: 'nacos', password: 's3cret' });
    const anonymous = await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders' });
    expect(anonymous.status).toBe(403);

    const wrong = client(s, { username: 'nacos', password: 'nope' });
    await expect(wrong.registerInstance('orders', { ip: '127.0.0.1', port: 4001 }, 'DEFAULT_GROUP')).rejects.toThrow(/failed to req API/);
    expect(await wrong.getServerStatus()).toBe('DOWN');

    const right = client(s, { username: 'nacos', password: 's3cret' });
    await right.registerInstance('orders', { ip: '127.0.0.1', port: 4001 }, 'DEFAULT_GROUP');
    expect(s.instances('orders')).toHaveLength(1);
    expect(s.requests.at(-1)?.params).toMatchObject({ username: 'nacos', password: 's3cret' });
    expect(s.requestCount('POST', '/nacos/v1/auth/login')).toBe(0);

    const login = await nacosHttp(s, 'POST', '/nacos/v1/auth/login', { username: 'nacos', password: 's3cret' });
    const { accessToken } = login.json();
    expect((await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', accessToken })).status).toBe(200);
    expect((await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', accessToken: 'forged' })).status).toBe(403);
  });

  it('pushes a change over UDP to a subscribed real client, which applies and acks it', async () => {
    const s = await startServer({ pushDelayMs: 20, cacheMillis: 60_000 });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    const c = client(s);
    await c.ready();
    const seen: number[][] = [];
    c.subscribe({ serviceName: 'orders', groupName: 'DEFAULT_GROUP', clusters: 'DEFAULT' }, (hosts) => seen.push(hosts.map((h) => h.port)));
    await waitFor(() => seen.length > 0, 2000, 'initial list');
    const polls = s.requestCount('GET', LIST);
    expect(s.subscriberCount('orders')).toBe(1);

    await nacosHttp(s, 'POST', INSTANCE, registerParams(4002));
    await waitFor(() => seen.some((ports) => ports.length === 2), 900, 'pushed list');
    expect(s.requestCount('GET', LIST)).toBe(polls); // it came by push, not by polling
    // The first registration may also have been pushed, if the subscription beat its push delay.
    await waitFor(() => s.pushes.find((p) => p.hosts === 2)?.acked, 1000, 'ack');
    expect(s.pushes.find((p) => p.hosts === 2)).toMatchObject({ service: 'DEFAULT_GROUP@@orders', address: '127.0.0.1' });
  });

  it('gzips pushes of 1 KiB or more, which the client decodes', async () => {
    const s = await startServer({ pushDelayMs: 20, cacheMillis: 60_000 });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    const c = client(s);
    await c.ready();
    let latest: Array<{ port: number; metadata?: Record<string, unknown> | null }> = [];
    c.subscribe({ serviceName: 'orders', groupName: 'DEFAULT_GROUP', clusters: 'DEFAULT' }, (hosts) => (latest = hosts));
    await waitFor(() => latest.length === 1, 2000, 'initial list');
    const big = 'x'.repeat(2048);
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4002, { metadata: JSON.stringify({ big }) }));
    await waitFor(() => latest.length === 2, 900, 'gzipped push');
    expect(latest.find((h) => h.port === 4002)?.metadata).toEqual({ big });
    await waitFor(() => s.pushes.find((p) => p.hosts === 2)?.acked, 1000, 'ack');
    expect(s.pushes.find((p) => p.hosts === 2)?.gzipped).toBe(true);
  });

  it('pushes only to the loopback address the list request came from, never to clientIP', async () => {
    const s = await startServer({ pushDelayMs: 10 });
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const received: Array<{ packet: { type: string; data: string; lastRefTime: number }; from: number }> = [];
    socket.on('message', (msg, rinfo) => {
      const packet = JSON.parse(msg.toString('utf8'));
      received.push({ packet, from: rinfo.port });
      socket.send(JSON.stringify({ type: 'push-ack', lastRefTime: packet.lastRefTime, data: '' }), rinfo.port, rinfo.address);
    });
    // clientIP is only ever recorded, never used as a destination.
    await nacosHttp(s, 'GET', LIST, { serviceName: 'DEFAULT_GROUP@@orders', clusters: 'DEFAULT', udpPort: socket.address().port, clientIP: '192.0.2.10' });
    await nacosHttp(s, 'POST', INSTANCE, registerParams(4001));
    await waitFor(() => received.length === 1, 1000, 'push');
    expect(received[0].packet.type).toBe('dom');
    expect(received[0].packet.lastRefTime).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(JSON.parse(received[0].packet.data)).toMatchObject({ name: 'DEFAULT_GROUP@@orders', clusters: 'DEFAULT', hosts: [{ port: 4001 }] });
    await waitFor(() => s.ackCount === 1, 1000, 'ack');
    expect(s.pushes).toMatchObject([{ address: '127.0.0.1', gzipped: false }]); // one host: under 1 KiB, plain JSON

    expect(loopbackTarget('127.0.0.1')).toEqual({ address: '127.0.0.1', family: 'udp4' });
    expect(loopbackTarget('::ffff:127.0.0.1')).toEqual({ address: '127.0.0.1', family: 'udp4' });
    expect(loopbackTarget('::1')).toEqual({ address: '::1', family: 'udp6' });
    for (const address of ['192.0.2.10', '10.1.2.3', '::ffff:10.0.0.1', 'fe80::1', '', undefined]) {
      expect(loopbackTarget(address)).toBeUndefined();
    }
    const pusher = new NacosTestPusher(10_000);
    pusher.track({ namespace: 'public', service: 'DEFAULT_GROUP@@orders', clusters: '', port: 5555 }, '192.0.2.10', Date.now());
    expect(pusher.subscriberCount('public', 'DEFAULT_GROUP@@orders')).toBe(0);
    await pusher.close();
  });

  it('stop() also closes idle keep-alive connections', async () => {
    const s = await startServer();
    const agent = new http.Agent({ keepAlive: true });
    try {
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: s.port, path: '/nacos/v1/ns/operator/metrics', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
      await sleep(10);
      const started = Date.now();
      await s.stop();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(s.running).toBe(false);
    } finally {
      agent.destroy();
    }
  });
});
