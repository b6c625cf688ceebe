import { afterEach, describe, expect, it } from '@jest/globals';
import { createHook } from 'node:async_hooks';
import { RegistryError } from '../../lib/errors/index.js';
import { NacosRegistry, type NacosRegistryOptionsInput, type ServiceInstance } from '../../lib/registry/index.js';
import { NacosTestServer, type NacosTestServerOptions } from '../support/nacos-test-server.js';
import { recordingLogger, sleep, waitFor } from '../support/nacos-test-helpers.js';

const FAST_BEATS = { 'preserved.heart.beat.interval': '100' };

describe('NacosRegistry (real nacos client against the test server)', () => {
  let server: NacosTestServer | undefined;
  const registries: NacosRegistry[] = [];

  async function startServer(options: NacosTestServerOptions = {}): Promise<NacosTestServer> {
    server = new NacosTestServer({ pushDelayMs: 20, cacheMillis: 300, ...options });
    await server.start();
    return server;
  }

  function registry(s: NacosTestServer, options: Partial<NacosRegistryOptionsInput> = {}) {
    const logger = recordingLogger();
    const r = new NacosRegistry({ serverList: [s.address], logger, ...options });
    registries.push(r);
    return Object.assign(r, { logger });
  }

  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.close()));
    await server?.stop();
    server = undefined;
  });

  it('registers an instance that getInstances and subscribe then report, metadata included', async () => {
    const s = await startServer();
    const provider = registry(s);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001, weight: 2, metadata: { version: '1.0', codec: 'msgpack' } });
    expect(s.instances('orders')).toMatchObject([{ ip: '127.0.0.1', port: 4001, clusterName: 'DEFAULT', metadata: { version: '1.0' } }]);

    const consumer = registry(s);
    const expected: ServiceInstance = {
      id: '127.0.0.1:4001',
      host: '127.0.0.1',
      port: 4001,
      weight: 2,
      healthy: true,
      enabled: true,
      cluster: 'DEFAULT',
      metadata: { version: '1.0', codec: 'msgpack' },
    };
    expect(await consumer.getInstances('orders')).toEqual([expected]);
    const calls: ServiceInstance[][] = [];
    await consumer.subscribe('orders', (list) => calls.push(list));
    expect(calls).toEqual([[expected]]);
  });

  it('notifies subscribers with the full list on each change; the last removal is never reported', async () => {
    const s = await startServer();
    const provider = registry(s);
    const consumer = registry(s);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001 });
    const calls: number[][] = [];
    await consumer.subscribe('orders', (list) => calls.push(list.map((i) => i.port).sort()));

    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4002 });
    await waitFor(() => calls.some((c) => c.length === 2), 3000, 'both instances');
    expect(calls.at(-1)).toEqual([4001, 4002]);

    await provider.deregister({ service: 'orders', host: '127.0.0.1', port: 4001 });
    await waitFor(() => calls.at(-1)?.length === 1, 3000, 'removal');
    expect(calls.at(-1)).toEqual([4002]);

    // The client never delivers an empty list: the stale one stays, for the directory to judge.
    const before = calls.length;
    await provider.deregister({ service: 'orders', host: '127.0.0.1', port: 4002 });
    expect(s.instances('orders')).toEqual([]);
    await sleep(700);
    expect(calls.length).toBe(before);
    expect((await consumer.getInstances('orders')).map((i) => i.port)).toEqual([4002]);
  });

  it('keeps serving the last list while Nacos is down, and register throws RegistryError', async () => {
    const s = await startServer();
    const provider = registry(s);
    const consumer = registry(s);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001 });
    expect(await consumer.getInstances('orders')).toHaveLength(1);
    expect(await consumer.isReachable()).toBe(true);

    await s.stop();
    expect((await consumer.getInstances('orders')).map((i) => i.id)).toEqual(['127.0.0.1:4001']);
    expect(await consumer.getInstances('never-fetched')).toEqual([]);
    expect(await consumer.isReachable()).toBe(false);
    const err = await provider.register({ service: 'orders', host: '127.0.0.1', port: 4002 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe('ERR_REGISTRY');
    expect((err as RegistryError).cause).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/register DEFAULT_GROUP@@orders 127\.0\.0\.1:4002/);
    await expect(provider.deregister({ service: 'orders', host: '127.0.0.1', port: 4001 })).rejects.toBeInstanceOf(RegistryError);
  });

  it('re-appears through its beats after Nacos restarts empty', async () => {
    const s = await startServer({ clientBeatIntervalMs: 100 });
    const provider = registry(s);
    const consumer = registry(s);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001, metadata: { ...FAST_BEATS, v: '1' } });
    const calls: number[][] = [];
    await consumer.subscribe('orders', (list) => calls.push(list.map((i) => i.port).sort()));
    await waitFor(() => s.requestCount('PUT', '/nacos/v1/ns/instance/beat') > 0, 2000, 'first beat');

    await s.stop();
    await sleep(150);
    await s.start({ wipe: true });
    await waitFor(() => s.instances('orders').length === 1, 2000, 're-registration by beat');
    expect(s.instances('orders')[0]).toMatchObject({ port: 4001, metadata: { v: '1' } });

    // The consumer's subscription recovered too: a provider registered after the restart shows up.
    const late = registry(s);
    await late.register({ service: 'orders', host: '127.0.0.1', port: 4002 });
    await waitFor(() => calls.at(-1)?.length === 2, 3000, 'subscription after restart');
  });

  it('serves concurrent first lookups of an empty service at once', async () => {
    const s = await startServer();
    const consumer = registry(s);
    const started = Date.now();
    const calls: ServiceInstance[][] = [];
    const [a, b] = await Promise.all([
      consumer.getInstances('empty'),
      consumer.getInstances('empty'),
      consumer.subscribe('empty', (l) => calls.push(l)),
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
    expect([a, b, calls]).toEqual([[], [], [[]]]);
  });

  it('authenticates with username/password and reports a refusal as RegistryError', async () => {
    const s = await startServer({ username: 'nacos', password: 's3cret' });
    await registry(s, { username: 'nacos', password: 's3cret' }).register({ service: 'orders', host: '127.0.0.1', port: 4001 });
    expect(s.instances('orders')).toHaveLength(1);
    const wrong = registry(s, { username: 'nacos', password: 'nope' });
    await expect(wrong.register({ service: 'orders', host: '127.0.0.1', port: 4002 })).rejects.toThrow(RegistryError);
    expect(wrong.logger.lines.some((l) => l.level === 'warn' && /code: 403/.test(l.message))).toBe(true);
  });

  it('isolates listeners: a throwing one is logged, the others still get updates; unsubscribe stops them', async () => {
    const s = await startServer();
    const provider = registry(s);
    const consumer = registry(s);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001 });
    const good: number[] = [];
    const bad = () => {
      throw new Error('boom');
    };
    const listener = (list: ServiceInstance[]) => good.push(list.length);
    await consumer.subscribe('orders', bad);
    await consumer.subscribe('orders', listener);
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4002 });
    await waitFor(() => good.includes(2), 3000, 'update');
    expect(consumer.logger.lines.some((l) => l.level === 'error' && /boom/.test(l.message))).toBe(true);

    await consumer.unsubscribe('orders', listener);
    await consumer.unsubscribe('orders', bad);
    const count = good.length;
    await provider.register({ service: 'orders', host: '127.0.0.1', port: 4003 });
    await sleep(500);
    expect(good.length).toBe(count);
  });

  it('close() releases every socket and timer of the client, and later calls fail with RegistryError', async () => {
    const s = await startServer();
    // Closed handles leave getActiveResourcesInfo() a loop turn or two later; let earlier tests' settle.
    await sleep(100);
    const baseline = socketCounts();
    const timers = trackTimers(/node_modules\/(nacos|urllib|ko-sleep|sdk-base)|lib\/registry|lib\/common\/clock/);
    try {
      const provider = registry(s);
      await provider.register({ service: 'orders', host: '127.0.0.1', port: 4001, metadata: FAST_BEATS });
      await provider.subscribe('orders', () => undefined);
      await waitFor(() => s.requestCount('PUT', '/nacos/v1/ns/instance/beat') > 1, 2000, 'beats');
      await waitFor(() => s.requestCount('GET', '/nacos/v1/ns/instance/list') > 1, 2000, 'a poll');
      expect(timers.live().length).toBeGreaterThan(0);
      await provider.close();
      await provider.close();
      await sleep(100);
      expect(timers.live()).toEqual([]);
      const after = socketCounts();
      expect(Object.keys(after).filter((kind) => after[kind] > (baseline[kind] ?? 0))).toEqual([]);
      // close() does not deregister: the instance stays until Nacos expires it.
      expect(s.instances('orders')).toHaveLength(1);
      await expect(provider.getInstances('orders')).rejects.toThrow(/closed/);
      await expect(provider.register({ service: 'orders', host: '127.0.0.1', port: 4001 })).rejects.toBeInstanceOf(RegistryError);
      expect(await provider.isReachable()).toBe(false);
    } finally {
      timers.stop();
    }
  });
});

/** Timers created from code matching `origin` (by creation stack) that have neither fired nor been cleared. */
function trackTimers(origin: RegExp): { live: () => string[]; stop: () => void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (origin.test(stack)) live.set(id, stack);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { live: () => [...live.values()], stop: () => void hook.disable() };
}

function socketCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'UDPWrap' || kind === 'TCPSocketWrap') counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
