import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { StaticRegistry } from '../../lib/index.js';
import type { ChannelCache } from '../../lib/channel/channel-cache.js';
import { sleep, waitUntil } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/** A static registry that answers like a remote one (asynchronously) and counts what it is asked. */
class CountingRegistry extends StaticRegistry {
  subscribes = 0;
  lookups = 0;

  override async subscribe(...args: Parameters<StaticRegistry['subscribe']>): Promise<void> {
    this.subscribes++;
    await sleep(30);
    return super.subscribe(...args);
  }

  override async getInstances(...args: Parameters<StaticRegistry['getInstances']>): ReturnType<StaticRegistry['getInstances']> {
    this.lookups++;
    await sleep(30);
    return super.getInstances(...args);
  }
}

describe('channel cache: connections per provider (loopback)', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const provider = async (): Promise<TestProvider> => {
    const p = await startTestProvider();
    cleanups.push(() => p.close());
    return p;
  };
  const client = (...args: Parameters<typeof testClient>) => {
    const c = testClient(...args);
    cleanups.unshift(() => c.client.close());
    return c;
  };

  it('200 concurrent first calls open exactly ONE connection', async () => {
    const p = await provider();
    const { client: c } = client(p.port);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(p.accepted()).toBe(1);
    expect(c.unwrap<ChannelCache>().get(p.address)).toHaveLength(1);
  });

  it('200 concurrent first calls through an asynchronous registry: one connection, no lookup storm', async () => {
    const p = await provider();
    const registry = new CountingRegistry([p.address]);
    const { client: c } = client([], { service: 'echo', providers: undefined, registry, snapshotDir: false });
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(answers).toHaveLength(200);
    expect(p.accepted()).toBe(1);
    expect(registry.subscribes).toBe(1);
    // Waiting callers share one re-resolution at most; 200 lookups would hammer a real registry.
    expect(registry.lookups).toBeLessThanOrEqual(1);
  });

  it('connectionsPerProvider N opens N connections and spreads concurrent calls over them', async () => {
    const p = await provider();
    const { client: c } = client(p.port, { connectionsPerProvider: 3 });
    await c.connect();
    await waitUntil(() => p.accepted() === 3, 3000, '3 connections');
    const callers = await Promise.all(
      Array.from({ length: 30 }, () => firstValueFrom(c.send<string>('whoami', {}))),
    );
    expect(new Set(callers).size).toBe(3);
    await sleep(100);
    expect(p.accepted()).toBe(3);

    // Lost together, they all come back.
    p.destroySockets();
    await waitUntil(() => p.accepted() === 6 && p.sockets.size === 3, 3000, '3 reconnected connections');
    await expect(firstValueFrom(c.send('echo', 'ok'))).resolves.toBe('ok');
  });

  it('routes around a provider that died: every later call goes to the live one', async () => {
    const a = await provider();
    const b = await provider();
    const { client: c } = client([a.port, b.port], { timeout: 2000 });
    await c.connect();
    await waitUntil(() => a.accepted() === 1 && b.accepted() === 1, 3000, 'both providers connected');
    await a.close();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
