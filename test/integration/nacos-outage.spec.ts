import { afterEach, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { firstValueFrom } from 'rxjs';
import { MsRpcError, NoProviderError } from '../../lib/index.js';
import { DiscoveryFixture, FAST_NACOS, SERVICE } from '../support/nacos-discovery-fixture.js';
import { sleep, waitFor } from '../support/nacos-test-helpers.js';

/**
 * The consumer side when Nacos misbehaves: outages, a consumer starting during one, a Nacos that
 * restarts empty, and the last provider leaving (which the nacos client never reports). Real
 * `nacos` client against the test server, real Nest providers.
 */
describe('Nacos outages and empty lists (real nacos client, real Nest providers)', () => {
  let fx: DiscoveryFixture | undefined;

  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  const snapshotIds = async (f: DiscoveryFixture): Promise<string[]> => {
    const text = await readFile(f.snapshotFile(), 'utf8').catch(() => '');
    return text ? JSON.parse(text).instances.map((i: { id: string }) => i.id).sort() : [];
  };

  /*
   * A real 30 s outage (OUTAGE_MS), with the other timings of the system scaled down, so every
   * periodic mechanism runs many times over while Nacos is gone:
   * - Nacos expiry: unhealthy after 1.5 s and deleted after 3 s without beats (real: 15 s / 30 s).
   *   The outage outlasts the delete timeout many times over, as a long real one does: a real Nacos cut off from its
   *   clients that long deletes p1 and p2 (its sweeper keeps running). The test server's sweeper
   *   stops with it, so the test runs one sweep before the restart: Nacos comes back WITHOUT p1
   *   and p2, and they re-register through their beats, while the consumer may first see a list
   *   without them (p3 only), which must not fail a call either.
   * - Consumer side, nothing expires with time: the directory has no TTL (it changes only on
   *   registry updates and evictions), the nacos client keeps its last list with no TTL and
   *   retries its poll every cacheMillis (300 ms here, so ~100 failed polls, asserted below), the
   *   snapshot has no age limit, transport heartbeats (200 ms) run against the providers, not
   *   Nacos. The test samples the directory every 50 ms through the outage and requires it
   *   unchanged, with both providers still answering at its end.
   * - Provider side, beats (100 ms) fail and are retried forever with no give-up (asserted), and a
   *   provider started during the outage retries registration with backoff (asserted).
   */
  const OUTAGE_MS = 30_000;

  it(`serves every call through a ${OUTAGE_MS / 1000} s Nacos outage, then resyncs (a provider added meanwhile shows up)`, async () => {
    fx = await DiscoveryFixture.create();
    const p1 = await fx.startProvider('p1');
    const p2 = await fx.startProvider('p2');
    const consumer = fx.consumer();
    const { client } = consumer;
    await fx.waitConnected(consumer, [p1.address, p2.address]);
    await waitFor(async () => (await snapshotIds(fx!)).length === 2, 3000, 'snapshot of both');
    const loop = fx.callLoop(client);
    const samples: string[] = [];
    const sampler = setInterval(() => samples.push([...client.providers].sort().join()), 50);
    try {
      await sleep(200);
      await fx.nacos.stop();
      const downAt = Date.now();
      const pollFailuresBefore = consumer.logger.lines.filter((l) => /failed to update serviceName/.test(l.message)).length;
      samples.length = 0;

      const p3 = await fx.startProvider('p3');
      await sleep(OUTAGE_MS - (Date.now() - downAt));

      // Through the outage: the directory never changed, both providers kept answering to the end.
      expect(new Set(samples)).toEqual(new Set([[p1.address, p2.address].sort().join()]));
      expect(samples.length).toBeGreaterThan(OUTAGE_MS / 50 / 2);
      expect(loop.answeredSince(Date.now() - 1000)).toEqual(new Set(['p1', 'p2']));
      expect(loop.result.failures).toEqual([]);
      // The outage was real for everyone: polls, beats and registration kept failing and retrying.
      const pollFailures = consumer.logger.lines.filter((l) => /failed to update serviceName/.test(l.message)).length - pollFailuresBefore;
      expect(pollFailures).toBeGreaterThanOrEqual(OUTAGE_MS / FAST_NACOS.cacheMillis! / 2);
      expect(p1.registryLogger.lines.filter((l) => /failed to send beat/.test(l.message)).length).toBeGreaterThan(10);
      // One warning, the retries at debug.
      expect(fx.nestLogs.matching('warn', new RegExp(`registering ${SERVICE}@${p3.address} in nacos failed`))).toHaveLength(1);
      expect(fx.nestLogs.matching('debug', new RegExp(`registering ${SERVICE}@${p3.address} in nacos failed`)).length).toBeGreaterThanOrEqual(1);
      expect(p3.server.registered).toBe(false);
      expect(await snapshotIds(fx)).toEqual([p1.address, p2.address].sort());

      fx.sweepNacosNow();
      expect(fx.registeredPorts()).toEqual([]);
      await fx.nacos.start();
      const upAt = Date.now();
      await waitFor(() => client.providers.includes(p3.address), 5000, 'p3 discovered after the outage');
      await waitFor(() => loop.answeredSince(upAt).has('p3'), 3000, 'p3 answering');
      await waitFor(
        () => fx!.nacos.instances(SERVICE).filter((i) => i.healthy).length === 3 && client.providers.length === 3,
        5000,
        'all three registered, healthy and in the directory',
      );
      const settled = Date.now();
      await waitFor(() => loop.answeredSince(settled).size === 3, 3000, 'all three answering');
      const result = await loop.stop();
      expect(result.failures).toEqual([]);
      expect(await snapshotIds(fx)).toEqual([p1.address, p2.address, p3.address].sort());
    } finally {
      clearInterval(sampler);
      await loop.stop();
    }
  }, OUTAGE_MS + 30_000);

  it('a consumer started while Nacos is down works from the snapshot an earlier consumer wrote', async () => {
    fx = await DiscoveryFixture.create();
    const p1 = await fx.startProvider('p1');
    const earlier = fx.consumer();
    await expect(firstValueFrom(earlier.client.send('whoami', {}))).resolves.toBe('p1');
    await waitFor(async () => (await snapshotIds(fx!)).length === 1, 3000, 'snapshot');
    await earlier.client.close();

    await fx.nacos.stop();
    const late = fx.consumer();
    await expect(firstValueFrom(late.client.send('whoami', {}))).resolves.toBe('p1');
    expect(late.clientLogger.lines.some((l) => /1 provider\(s\) from the snapshot/.test(l.message))).toBe(true);
    // The unreachable registry answered the late consumer with an empty list: that must not have
    // replaced the snapshot, or the next consumer started in this outage would find nothing.
    await sleep(200);
    expect(await snapshotIds(fx)).toEqual([p1.address]);
    const later = fx.consumer();
    await expect(firstValueFrom(later.client.send('whoami', {}))).resolves.toBe('p1');

    // Nacos returns: the consumers resync from it (a provider registered since shows up).
    await fx.nacos.start();
    const p2 = await fx.startProvider('p2');
    await waitFor(() => late.client.providers.length === 2 && later.client.providers.length === 2, 5000, 'resync after the outage');
    expect([...late.client.providers].sort()).toEqual([p1.address, p2.address].sort());
  });

  it('after Nacos restarts EMPTY, providers re-appear through their beats and a new consumer finds them', async () => {
    fx = await DiscoveryFixture.create();
    const p1 = await fx.startProvider('p1');
    const p2 = await fx.startProvider('p2');
    await waitFor(() => fx!.registeredPorts().length === 2, 3000, 'both registered');
    const metadataBefore = fx.nacos.instances(SERVICE).find((i) => i.port === p1.port)!.metadata;
    const running = fx.consumer();
    await waitFor(() => (void running.client.connect().catch(() => undefined), running.client.providers.length === 2), 3000, 'both discovered');
    const loop = fx.callLoop(running.client);

    await fx.nacos.stop();
    await sleep(300);
    fx.nacos.resetRequestLog();
    await fx.nacos.start({ wipe: true });
    expect(fx.registeredPorts()).toEqual([]);
    // No register() call is made again (both providers count as registered): the beats do it.
    await waitFor(() => fx!.registeredPorts().length === 2, 3000, 're-registration from beats');
    expect(fx.registeredPorts()).toEqual([p1.port, p2.port].sort((a, b) => a - b));
    expect(fx.nacos.requests.filter((r) => r.method === 'POST' && r.path === '/nacos/v1/ns/instance')).toEqual([]);
    expect(fx.nacos.instances(SERVICE).find((i) => i.port === p1.port)!.metadata).toEqual(metadataBefore);

    const fresh = fx.consumer();
    await waitFor(() => (void fresh.client.connect().catch(() => undefined), fresh.client.providers.length === 2), 3000, 'new consumer discovers both');
    const answers = new Set(await Promise.all(Array.from({ length: 40 }, () => firstValueFrom(fresh.client.send<string>('whoami', {})))));
    expect(answers).toEqual(new Set(['p1', 'p2']));
    const result = await loop.stop();
    expect(result.failures).toEqual([]);
    expect(new Set(result.answers.map((a) => a.provider))).toEqual(new Set(['p1', 'p2']));
  });

  it('the last provider leaving is never reported by the nacos client: transport liveness fails calls (typed, bounded) and evicts it', async () => {
    fx = await DiscoveryFixture.create();
    const p1 = await fx.startProvider('p1');
    const consumer = fx.consumer({ timeout: 800 });
    const { client, registry } = consumer;
    const delivered: number[] = [];
    await registry.subscribe(SERVICE, (list) => delivered.push(list.length));
    await expect(firstValueFrom(client.send('whoami', {}))).resolves.toBe('p1');

    await p1.close();
    expect(fx.registeredPorts()).toEqual([]);
    // Several pushes/polls later, the client still hands out p1 and never delivered the empty list.
    await sleep(3 * FAST_NACOS.cacheMillis!);
    expect((await registry.getInstances(SERVICE)).map((i) => i.id)).toEqual([p1.address]);
    expect(delivered).toEqual([1]);

    // The consumer finds out by itself: reconnects fail, and after maxAttempts p1 is evicted (out of
    // load balancing, still probed while Nacos lists it). Calls fail fast, saying why.
    await waitFor(() => consumer.evicted.includes(p1.address), 5000, 'eviction of p1');
    expect(client.providers).toEqual([p1.address]);
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const error = await firstValueFrom(client.send('whoami', {})).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MsRpcError);
      expect(error).toBeInstanceOf(NoProviderError);
      expect((error as Error).message).toContain(`${p1.address}: connect ECONNREFUSED`);
      expect(Date.now() - started).toBeLessThan(800);
    }

    // And it recovers as soon as a provider is registered again.
    const p2 = await fx.startProvider('p2');
    await waitFor(() => client.providers.includes(p2.address), 5000, 'p2 discovered');
    await expect(firstValueFrom(client.send('whoami', {}))).resolves.toBe('p2');
  });
});
