import { afterEach, describe, expect, it } from '@jest/globals';
import { createHook, executionAsyncId } from 'node:async_hooks';
import { RegistryError } from '../../lib/errors/index.js';
import type { NacosRegistry, NacosRegistryOptionsInput, ServiceInstance } from '../../lib/registry/index.js';
import { recordingLogger, sleep, waitFor } from './nacos-test-helpers.js';

/** What a Nacos test server looks like to the conformance suite, whatever protocol it speaks. */
export interface ConformanceServer {
  readonly address: string;
  start(opts?: { wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
  /** Stored instances of a service in DEFAULT_GROUP/public. */
  stored(service: string): Array<{ ip: string; port: number; clusterName: string; metadata: Record<string, string> }>;
}

export interface ConformanceTarget {
  protocol: 'http' | 'grpc';
  server(options?: { username?: string; password?: string }): Promise<ConformanceServer>;
  /** Registry options that make this protocol fast against its test server. */
  registryOptions: Partial<NacosRegistryOptionsInput>;
  /** Metadata a provider registers with (HTTP: fast beats). */
  providerMetadata: Record<string, string>;
  /** Known differences, asserted exactly for each protocol. */
  behaviour: {
    /** The last instance leaving is reported as `[]` (gRPC) or never (the `nacos` client). */
    reportsEmptyList: boolean;
    /** A never-seen service while Nacos is down: `[]` (the `nacos` client) or a RegistryError. */
    unknownServiceWhileDown: 'empty' | 'error';
    /** close() removes the instance from Nacos at once (gRPC: it dies with the connection). */
    closeRemovesInstances: boolean;
    /** Sources of the timers a closed registry must not leave behind. */
    timerOrigin: RegExp;
  };
}

/**
 * One registry conformance suite: every registry scenario of the HTTP path, run against each
 * protocol's real client and test server. Differences between protocols are declared in
 * `behaviour` and asserted exactly, never tolerated loosely.
 */
export function registryConformance(target: ConformanceTarget): void {
  const { behaviour } = target;
  describe(`NacosRegistry conformance (protocol ${target.protocol})`, () => {
    let server: ConformanceServer | undefined;
    const registries: NacosRegistry[] = [];

    async function startServer(options: { username?: string; password?: string } = {}): Promise<ConformanceServer> {
      server = await target.server(options);
      return server;
    }

    async function registry(s: ConformanceServer, options: Partial<NacosRegistryOptionsInput> = {}) {
      const { NacosRegistry } = await import('../../lib/registry/index.js');
      const logger = recordingLogger();
      const r = new NacosRegistry({ serverList: [s.address], protocol: target.protocol, logger, ...target.registryOptions, ...options });
      registries.push(r);
      return Object.assign(r, { logger });
    }

    const reg = (port: number, metadata: Record<string, string> = {}) => ({
      service: 'orders',
      host: '127.0.0.1',
      port,
      metadata: { ...target.providerMetadata, ...metadata },
    });

    afterEach(async () => {
      await Promise.all(registries.splice(0).map((r) => r.close()));
      await server?.stop();
      server = undefined;
    });

    it('registers an instance that getInstances and subscribe then report, metadata included', async () => {
      const s = await startServer();
      const provider = await registry(s);
      await provider.register({ ...reg(4001, { version: '1.0', codec: 'msgpack' }), weight: 2 });
      expect(s.stored('orders')).toMatchObject([{ ip: '127.0.0.1', port: 4001, clusterName: 'DEFAULT', metadata: { version: '1.0' } }]);

      const consumer = await registry(s);
      const expected: ServiceInstance = {
        id: '127.0.0.1:4001',
        host: '127.0.0.1',
        port: 4001,
        weight: 2,
        healthy: true,
        enabled: true,
        cluster: 'DEFAULT',
        metadata: { ...target.providerMetadata, version: '1.0', codec: 'msgpack' },
      };
      expect(await consumer.getInstances('orders')).toEqual([expected]);
      const calls: ServiceInstance[][] = [];
      await consumer.subscribe('orders', (list) => calls.push(list));
      expect(calls).toEqual([[expected]]);
    });

    it(`notifies subscribers with the full list on each change; the last removal is ${behaviour.reportsEmptyList ? 'reported as []' : 'never reported'}`, async () => {
      const s = await startServer();
      const provider = await registry(s);
      const consumer = await registry(s);
      await provider.register(reg(4001));
      const calls: number[][] = [];
      await consumer.subscribe('orders', (list) => calls.push(list.map((i) => i.port).sort()));

      await provider.register(reg(4002));
      await waitFor(() => calls.some((c) => c.length === 2), 3000, 'both instances');
      expect(calls.at(-1)).toEqual([4001, 4002]);

      await provider.deregister(reg(4001));
      await waitFor(() => calls.at(-1)?.length === 1, 3000, 'removal');
      expect(calls.at(-1)).toEqual([4002]);

      const before = calls.length;
      await provider.deregister(reg(4002));
      expect(s.stored('orders')).toEqual([]);
      if (behaviour.reportsEmptyList) {
        await waitFor(() => calls.at(-1)?.length === 0, 3000, 'the empty list');
        expect(await consumer.getInstances('orders')).toEqual([]);
      } else {
        await sleep(700);
        expect(calls.length).toBe(before);
        expect((await consumer.getInstances('orders')).map((i) => i.port)).toEqual([4002]);
      }
    });

    it('keeps serving the last list while Nacos is down, and register throws RegistryError', async () => {
      const s = await startServer();
      const provider = await registry(s);
      const consumer = await registry(s);
      await provider.register(reg(4001));
      const seen: ServiceInstance[][] = [];
      await consumer.subscribe('orders', (l) => seen.push(l));
      expect(await consumer.getInstances('orders')).toHaveLength(1);
      expect(await consumer.isReachable()).toBe(true);

      await s.stop();
      await sleep(200);
      expect((await consumer.getInstances('orders')).map((i) => i.id)).toEqual(['127.0.0.1:4001']);
      expect(seen.at(-1)?.map((i) => i.id)).toEqual(['127.0.0.1:4001']);
      if (behaviour.unknownServiceWhileDown === 'empty') expect(await consumer.getInstances('never-fetched')).toEqual([]);
      else await expect(consumer.getInstances('never-fetched')).rejects.toBeInstanceOf(RegistryError);
      expect(await consumer.isReachable()).toBe(false);
      const err = await provider.register(reg(4002)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as RegistryError).code).toBe('ERR_REGISTRY');
      expect((err as RegistryError).cause).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/register DEFAULT_GROUP@@orders 127\.0\.0\.1:4002/);
    });

    it('re-appears after Nacos restarts empty, and the subscription recovers', async () => {
      const s = await startServer();
      const provider = await registry(s);
      const consumer = await registry(s);
      await provider.register(reg(4001, { v: '1' }));
      const calls: number[][] = [];
      await consumer.subscribe('orders', (list) => calls.push(list.map((i) => i.port).sort()));

      await s.stop();
      await sleep(150);
      await s.start({ wipe: true });
      await waitFor(() => s.stored('orders').length === 1, 6000, 're-registration');
      expect(s.stored('orders')[0]).toMatchObject({ port: 4001, metadata: { v: '1' } });

      const late = await registry(s);
      await late.register(reg(4002));
      await waitFor(() => calls.at(-1)?.length === 2, 6000, 'subscription after restart');
    });

    it('serves concurrent first lookups of an empty service at once', async () => {
      const s = await startServer();
      const consumer = await registry(s);
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
      await (await registry(s, { username: 'nacos', password: 's3cret' })).register(reg(4001));
      expect(s.stored('orders')).toHaveLength(1);
      const wrong = await registry(s, { username: 'nacos', password: 'nope' });
      await expect(wrong.register(reg(4002))).rejects.toThrow(RegistryError);
      expect(wrong.logger.lines.some((l) => l.level === 'warn' && /403/.test(l.message))).toBe(true);
      expect(s.stored('orders').map((i) => i.port)).toEqual([4001]);
    });

    it('isolates listeners: a throwing one is logged, the others still get updates; unsubscribe stops them', async () => {
      const s = await startServer();
      const provider = await registry(s);
      const consumer = await registry(s);
      await provider.register(reg(4001));
      const good: number[] = [];
      const bad = () => {
        throw new Error('boom');
      };
      const listener = (list: ServiceInstance[]) => good.push(list.length);
      await consumer.subscribe('orders', bad);
      await consumer.subscribe('orders', listener);
      await provider.register(reg(4002));
      await waitFor(() => good.includes(2), 3000, 'update');
      expect(consumer.logger.lines.some((l) => l.level === 'error' && /boom/.test(l.message))).toBe(true);

      await consumer.unsubscribe('orders', listener);
      await consumer.unsubscribe('orders', bad);
      const count = good.length;
      await provider.register(reg(4003));
      await sleep(500);
      expect(good.length).toBe(count);
    });

    it(`close() releases every socket and timer${behaviour.closeRemovesInstances ? ', which removes its instance' : ''}; later calls fail with RegistryError`, async () => {
      const s = await startServer();
      await sleep(100);
      const baseline = socketCount();
      const timers = trackTimers(behaviour.timerOrigin);
      try {
        const provider = await registry(s);
        await provider.register(reg(4001));
        await provider.subscribe('orders', () => undefined);
        await sleep(300);
        expect(socketCount()).toBeGreaterThan(baseline);
        await provider.close();
        await provider.close();
        // grpc-js's resolver backoff may still hold one unref'd timer for up to its 1 s cap.
        await waitFor(() => timers.live().length === 0, 2000, 'timers gone').catch(() => undefined);
        expect(timers.live()).toEqual([]);
        await waitFor(() => socketCount() <= baseline, 2000, 'sockets closed');
        expect(s.stored('orders')).toHaveLength(behaviour.closeRemovesInstances ? 0 : 1);
        await expect(provider.getInstances('orders')).rejects.toThrow(/closed/);
        await expect(provider.register(reg(4001))).rejects.toBeInstanceOf(RegistryError);
        expect(await provider.isReachable()).toBe(false);
      } finally {
        timers.stop();
      }
    });
  });
}

/**
 * Timers created from code matching `origin` (by creation stack) that have neither fired nor been
 * cleared, counting only those that descend from the caller's async context: the registry under
 * test is created there, while timers of other test files that ran earlier in the same jest worker
 * (grpc-js schedules its own, unref'd) do not descend from it.
 */
function trackTimers(origin: RegExp): { live: () => string[]; stop: () => void } {
  const live = new Map<number, string>();
  const ours = new Set<number>([executionAsyncId()]);
  const hook = createHook({
    init(id, type, triggerId) {
      if (!ours.has(triggerId) && !ours.has(executionAsyncId())) return;
      ours.add(id);
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

function socketCount(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'UDPWrap' || kind === 'TCPSocketWrap').length;
}
