import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ServiceDiscovery } from '../../../lib/client/service-discovery.js';
import { systemClock } from '../../../lib/common/clock.js';
import { Directory } from '../../../lib/directory/directory.js';
import type { DirectorySnapshotStore } from '../../../lib/directory/directory-snapshot.js';
import { RegistryError, RegistryTimeoutError } from '../../../lib/errors/index.js';
import type { InstancesListener, Registry } from '../../../lib/registry/registry.js';
import type { ServiceInstance } from '../../../lib/registry/service-instance.js';
import { recordingLogger } from '../../support/loopback-utils.js';
import { instance } from '../balancer/fixtures.js';

const provider = (port: number): ServiceInstance => instance(`127.0.0.1:${port}`);

/** A registry driven by the test: each subscribe() is answered by `answer`. */
function scriptedRegistry(answer: (listener: InstancesListener, attempt: number) => Promise<void>, reachable = true) {
  const listeners = new Set<InstancesListener>();
  let attempts = 0;
  const registry: Registry = {
    kind: 'scripted',
    identity: 'scripted://',
    register: async () => undefined,
    deregister: async () => undefined,
    subscribe: async (_service, listener) => {
      await answer(listener, ++attempts);
      listeners.add(listener);
    },
    unsubscribe: async (_service, listener) => void listeners.delete(listener),
    getInstances: async () => [],
    isReachable: async () => reachable,
    close: async () => undefined,
  };
  return { registry, listeners, attempts: () => attempts, push: (list: ServiceInstance[]) => listeners.forEach((l) => l(list)) };
}

function snapshotStore(saved: ServiceInstance[] | undefined) {
  const loads: string[] = [];
  const store = {
    load: async (service: string) => (loads.push(service), saved),
    save: async () => undefined,
    flush: async () => undefined,
  } as unknown as DirectorySnapshotStore;
  return { store, loads };
}

describe('ServiceDiscovery: the snapshot stands in only while the registry cannot answer', () => {
  const logger = recordingLogger();
  let errors: Error[];
  const discovery = (registry: Registry, store: DirectorySnapshotStore, timeout = 1000) => {
    const directory = new Directory('svc', { onAdded: () => undefined, onRemoved: () => undefined }, logger);
    const d = new ServiceDiscovery(registry, 'svc', undefined, directory, store, logger, (e) => errors.push(e), timeout, systemClock);
    return { d, directory, ids: () => directory.list().map((i) => i.id) };
  };
  beforeEach(() => {
    jest.useFakeTimers();
    errors = [];
    logger.lines.length = 0;
  });
  afterEach(() => void jest.useRealTimers());

  it('a registry that answers is never mixed with the snapshot, even when its answer is empty', async () => {
    const { registry } = scriptedRegistry(async (l) => l([]));
    const { store, loads } = snapshotStore([provider(4000)]);
    const { d, ids } = discovery(registry, store);
    await d.start();
    expect(ids()).toEqual([]);
    expect(loads).toEqual([]);
  });

  it('an empty answer from an unreachable registry: the snapshot, until the first real answer replaces it', async () => {
    const { registry, push } = scriptedRegistry(async (l) => l([]), false);
    const { store } = snapshotStore([provider(4000)]);
    const { d, ids } = discovery(registry, store);
    await d.start();
    expect(ids()).toEqual(['127.0.0.1:4000']);
    push([provider(5000)]);
    expect(ids()).toEqual(['127.0.0.1:5000']);
  });

  it('a refused subscription: the snapshot, and re-subscription with backoff until the listener is attached', async () => {
    const { registry, listeners, attempts, push } = scriptedRegistry(async (l, attempt) => {
      if (attempt < 3) throw new RegistryError(`refused #${attempt}`);
      l([provider(5000)]);
    });
    const { store } = snapshotStore([provider(4000)]);
    const { d, ids } = discovery(registry, store);
    await d.start();
    expect(ids()).toEqual(['127.0.0.1:4000']);
    expect(errors.map((e) => e.message)).toEqual(['refused #1']);
    await jest.advanceTimersByTimeAsync(1200); // first retry ~1 s (±20 % jitter)
    expect(attempts()).toBe(2);
    await jest.advanceTimersByTimeAsync(2400);
    expect(attempts()).toBe(3);
    expect(listeners.size).toBe(1);
    expect(ids()).toEqual(['127.0.0.1:5000']);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(attempts()).toBe(3);
    push([provider(6000)]);
    expect(ids()).toEqual(['127.0.0.1:6000']);
    await d.stop();
    expect(listeners.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a subscription that hangs: the snapshot after registryTimeout; the late answer replaces it', async () => {
    let land!: () => void;
    const { registry, listeners } = scriptedRegistry((l) => new Promise<void>((resolve) => (land = () => (l([provider(5000)]), resolve()))));
    const { store } = snapshotStore([provider(4000)]);
    const { d, ids } = discovery(registry, store);
    let started = false;
    const starting = d.start().then(() => (started = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(started).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await starting;
    expect(ids()).toEqual(['127.0.0.1:4000']);
    expect(errors[0]).toBeInstanceOf(RegistryTimeoutError);
    expect(logger.lines.some((l) => l.level === 'warn' && /timed out after 1000 ms: subscribe to "svc" in scripted/.test(l.message))).toBe(true);
    land();
    await jest.advanceTimersByTimeAsync(0);
    expect(ids()).toEqual(['127.0.0.1:5000']);
    expect(listeners.size).toBe(1);
    await d.stop();
    expect(listeners.size).toBe(0);
  });

  it('closed while the subscription hangs: close() returns at once, and a late subscription is taken back out', async () => {
    let land!: () => void;
    const { registry, listeners } = scriptedRegistry((l) => new Promise<void>((resolve) => (land = () => (l([provider(5000)]), resolve()))));
    const { store } = snapshotStore(undefined);
    const { d, ids } = discovery(registry, store);
    void d.start();
    await jest.advanceTimersByTimeAsync(10);
    await d.stop();
    land();
    await jest.advanceTimersByTimeAsync(0);
    expect(listeners.size).toBe(0);
    expect(ids()).toEqual([]);
  });
});
