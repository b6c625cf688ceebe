import { afterEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { MsRpcError, type MsRpcClient } from '../../lib/index.js';
import { startBlackHole, type BlackHole } from '../support/black-hole-server.js';
import { DiscoveryFixture, SERVICE } from '../support/nacos-discovery-fixture.js';
import { waitFor } from '../support/nacos-test-helpers.js';

/**
 * Two environments, each with its own Nacos, and the same service name in both: consumers on one
 * machine share the snapshot folder. The snapshot must never hand one environment's providers to
 * a consumer of the other, and must only stand in while the registry cannot answer at startup,
 * until its first answer.
 */
describe('provider snapshots across registries (two Nacos test servers, one service name)', () => {
  const fixtures: DiscoveryFixture[] = [];
  const holes: BlackHole[] = [];
  afterEach(async () => {
    for (const hole of holes.splice(0)) await hole.close();
    for (const fx of fixtures.splice(0)) await fx.dispose();
  });

  /** What the snapshot of `fx`'s Nacos holds in the folder every consumer here shares. */
  const snapshotIds = async (fx: DiscoveryFixture): Promise<string[]> => {
    const text = await readFile(fx.snapshotFile(fixtures[0].snapshotDir), 'utf8').catch(() => '');
    return text ? JSON.parse(text).instances.map((i: { id: string }) => i.id) : [];
  };
  /** Every provider address the client ever had in its directory, sampled on each state change and call. */
  const watchProviders = (client: MsRpcClient): Set<string> => {
    const seen = new Set<string>();
    const sample = () => client.providers.forEach((p) => seen.add(p));
    client.on('connection-state', (e) => {
      seen.add(e.address);
      sample();
    });
    const timer = setInterval(sample, 10);
    timer.unref();
    const close = client.close.bind(client);
    client.close = async () => {
      clearInterval(timer);
      return close();
    };
    return seen;
  };

  async function twoEnvironments() {
    const staging = await DiscoveryFixture.create();
    const prod = await DiscoveryFixture.create();
    fixtures.push(staging, prod);
    // One machine: every consumer writes to the same folder.
    const consumer = (fx: DiscoveryFixture, options = {}) => fx.consumer({ snapshotDir: staging.snapshotDir, ...options });
    return { staging, prod, consumer, snapshotDir: staging.snapshotDir };
  }

  it('a consumer of a fresh Nacos never starts from the other environment’s providers; each registry keeps its own snapshot', async () => {
    const { staging, prod, consumer } = await twoEnvironments();
    const pStaging = await staging.startProvider('staging-provider');
    const first = consumer(staging);
    await expect(firstValueFrom(first.client.send('whoami', {}))).resolves.toBe('staging-provider');
    await waitFor(async () => (await snapshotIds(staging)).length === 1, 3000, 'staging snapshot');
    await first.client.close();

    // prod's Nacos answers, with no provider of the service yet: no call may reach staging.
    const late = consumer(prod);
    const seen = watchProviders(late.client);
    const error = await firstValueFrom(late.client.send('whoami', {})).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MsRpcError);
    expect(pStaging.probe.served).toBe(1);
    expect(seen.has(pStaging.address)).toBe(false);
    expect(late.clientLogger.lines.some((l) => /from the snapshot/.test(l.message))).toBe(false);

    // prod's own provider registers: the consumer finds it, and prod gets a snapshot of its own.
    const pProd = await prod.startProvider('prod-provider');
    await waitFor(() => late.client.providers.includes(pProd.address), 5000, 'prod provider discovered');
    await expect(firstValueFrom(late.client.send('whoami', {}))).resolves.toBe('prod-provider');
    await waitFor(async () => (await snapshotIds(prod)).length === 1, 3000, 'prod snapshot');
    expect(seen.has(pStaging.address)).toBe(false);
    expect(await snapshotIds(staging)).toEqual([pStaging.address]);
    expect(await snapshotIds(prod)).toEqual([pProd.address]);
    const dir = staging.snapshotDir;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(files.map((f) => join(dir, f)).sort()).toEqual([staging.snapshotFile(dir), prod.snapshotFile(dir)].sort());
    for (const fx of [staging, prod]) {
      expect(JSON.parse(await readFile(fx.snapshotFile(dir), 'utf8'))).toMatchObject({
        version: 2,
        registry: `nacos://${fx.nacos.address}/public`,
        service: SERVICE,
        group: 'DEFAULT_GROUP',
      });
    }
  });

  it('with its Nacos down, a consumer starts from its own registry’s snapshot, and the first answer replaces it', async () => {
    const { staging, prod, consumer } = await twoEnvironments();
    const pStaging = await staging.startProvider('staging-provider');
    const pProd = await prod.startProvider('prod-provider');
    for (const [fx, name] of [[staging, 'staging-provider'], [prod, 'prod-provider']] as const) {
      const c = consumer(fx);
      await expect(firstValueFrom(c.client.send('whoami', {}))).resolves.toBe(name);
      await waitFor(async () => (await snapshotIds(fx)).length === 1, 3000, `${name} snapshot`);
      await c.client.close();
    }

    await prod.nacos.stop();
    const late = consumer(prod);
    const seen = watchProviders(late.client);
    await expect(firstValueFrom(late.client.send('whoami', {}))).resolves.toBe('prod-provider');
    expect(late.clientLogger.lines.some((l) => /nacos is unreachable .*1 provider\(s\) from the snapshot/.test(l.message))).toBe(true);

    // prod's Nacos comes back having lost everything, and another provider registers: the
    // registry's answer replaces the snapshot's list. The snapshot's provider stays up and
    // connected (only its beats stopped), so nothing but that answer takes it out.
    await pProd.registry.close();
    await prod.nacos.start({ wipe: true });
    const pNew = await prod.startProvider('prod-new');
    await waitFor(() => late.client.providers.join() === pNew.address, 10_000, "the registry's answer replacing the snapshot");
    await expect(firstValueFrom(late.client.send('whoami', {}))).resolves.toBe('prod-new');
    expect(late.evicted).toEqual([]);
    expect(seen.has(pStaging.address)).toBe(false);
  });

  it('with its Nacos a black hole, a consumer starts from the snapshot after registryTimeout', async () => {
    const { prod, consumer } = await twoEnvironments();
    await prod.startProvider('prod-provider');
    const c = consumer(prod);
    await expect(firstValueFrom(c.client.send('whoami', {}))).resolves.toBe('prod-provider');
    await waitFor(async () => (await snapshotIds(prod)).length === 1, 3000, 'prod snapshot');
    await c.client.close();

    await prod.nacos.stop();
    holes.push(await startBlackHole({ port: prod.nacos.port }));
    const late = consumer(prod, { registryTimeout: 500, timeout: 3000 });
    const started = performance.now();
    await expect(firstValueFrom(late.client.send('whoami', {}))).resolves.toBe('prod-provider');
    const answeredAfter = performance.now() - started;
    expect(answeredAfter).toBeGreaterThanOrEqual(500 - 20);
    expect(answeredAfter).toBeLessThan(500 + 1000);
    expect(late.clientLogger.lines.some((l) => /Registry call timed out after 500 ms: subscribe to "svc" in nacos/.test(l.message))).toBe(true);
    const closeStarted = performance.now();
    await late.client.close();
    expect(performance.now() - closeStarted).toBeLessThan(500);
  });
});
