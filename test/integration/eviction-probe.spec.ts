import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { MsRpcClient, StaticRegistry } from '../../lib/index.js';
import type { ChannelCache } from '../../lib/channel/channel-cache.js';
import { recordingLogger, reservePort, sleep, waitUntil } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/** Eviction after 3 quick attempts, then probes every 300 ms ±20 %. */
const BACKOFF = { initialDelay: 20, factor: 2, maxDelay: 300, jitter: 0.2, maxAttempts: 3 };

/**
 * Issue 15, items 1 and 6 (client side): eviction takes a provider out of load balancing, not out
 * of existence — it is probed at the backoff cap while discovery lists it, and a probe that gets
 * its Hello brings it back, even while other providers serve (it used to be re-admitted only when
 * no provider at all was left); and a user's listener that throws never wedges a connection.
 */
describe('eviction is not forever; listeners cannot wedge the transport', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const provider = async (port?: number): Promise<TestProvider> => {
    const p = await startTestProvider(port === undefined ? {} : { port });
    cleanups.push(() => p.close());
    return p;
  };

  it('an evicted provider is probed at the backoff cap and takes calls again after a probe succeeds, while another provider serves', async () => {
    const a = await provider();
    const bPort = await reservePort();
    let b = await provider(bPort);
    const { client: c } = testClient([a.port, b.port], { backoff: BACKOFF, timeout: 2000 });
    cleanups.push(() => c.close());
    const evicted: string[] = [];
    const readmitted: string[] = [];
    c.on('evicted', (e) => evicted.push(e.address));
    c.on('readmitted', (e) => readmitted.push(e.address));
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 2000, 'both providers ready');

    await b.close();
    await waitUntil(() => evicted.includes(b.address), 3000, 'eviction of b');
    // Out of load balancing, still known: calls all go to a.
    expect(c.providers.sort()).toEqual([a.address, b.address].sort());
    const during = await Promise.all(Array.from({ length: 20 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(during).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(b.accepted()).toBe(1);

    // A "partition" of 600 ms more, then b is back on its address.
    await sleep(600);
    b = await provider(bPort);
    const healedAt = performance.now();
    // Calls keep flowing (two at a time, so the balancer has to choose) until b answers one.
    let servedByB: number | undefined;
    while (servedByB === undefined && performance.now() - healedAt < 3000) {
      await Promise.all([firstValueFrom(c.send('echo', 'x')), firstValueFrom(c.send('echo', 'y'))]);
      if (b.server.metrics!.snapshot().totals.succeeded > 0) servedByB = performance.now() - healedAt;
      else await sleep(5);
    }
    expect(servedByB).toBeDefined();
    expect(readmitted).toEqual([b.address]);
    console.info(
      `[eviction] healed provider served its first call ${Math.round(servedByB!)} ms after it was back ` +
        `(probes every ${BACKOFF.maxDelay} ms ±20 %, another provider up throughout)`,
    );
    expect(servedByB!).toBeLessThan(BACKOFF.maxDelay * 1.2 + 500);
  });

  it('probes stop when discovery no longer lists the evicted provider', async () => {
    const a = await provider();
    const goneBPort = await reservePort();
    const registry = new StaticRegistry([a.address, `127.0.0.1:${goneBPort}`]);
    const { client: c } = testClient([], { service: 'probed', providers: undefined, registry, snapshotDir: false, backoff: BACKOFF });
    cleanups.push(() => c.close());
    const evicted: string[] = [];
    c.on('evicted', (e) => evicted.push(e.address));
    await c.connect();
    await waitUntil(() => evicted.length === 1, 3000, 'eviction');
    registry.setInstances([a.address]);
    await waitUntil(() => c.unwrap<ChannelCache>().get(`127.0.0.1:${goneBPort}`) === undefined, 2000, 'connections released');
    let dialled = 0;
    const listener: Server = createServer((s) => {
      dialled++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(goneBPort, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    await sleep(BACKOFF.maxDelay * 3);
    expect(dialled).toBe(0);
  });

  it('a connection-state or status listener that throws neither wedges a connection nor stops other listeners; it is logged once', async () => {
    const p = await provider();
    const logger = recordingLogger();
    const c = new MsRpcClient({ providers: [p.address], logger, timeout: 1000 });
    cleanups.push(() => c.close());
    const seen: string[] = [];
    c.on('connection-state', () => {
      throw new Error('listener bug');
    });
    c.on('status', () => {
      throw new Error('status listener bug');
    });
    c.on('connection-state', (e) => seen.push(e.to));
    await expect(firstValueFrom(c.send('echo', 'through'))).resolves.toBe('through');
    expect(seen).toEqual(['connecting', 'ready']);
    p.destroySockets();
    await waitUntil(() => seen.at(-1) === 'ready' && seen.length >= 4, 3000, 'reconnected');
    await expect(firstValueFrom(c.send('echo', 'again'))).resolves.toBe('again');
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.filter((l) => l.message.includes("'connection-state' listener threw"))).toHaveLength(1);
    expect(errors.filter((l) => l.message.includes("'status' listener threw"))).toHaveLength(1);
  });
});
