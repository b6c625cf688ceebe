import { afterEach, describe, expect, it } from '@jest/globals';
import { DiscoveryFixture, SERVICE } from '../support/nacos-discovery-fixture.js';
import { NacosGrpcTestServer, NacosGrpcTestStore } from '../../lib/testing/index.js';
import { sleep, waitFor } from '../support/nacos-test-helpers.js';

/**
 * Nacos over gRPC failing under load, with real Nest providers and an MsRpcClient consumer, all
 * through the real client: a 30 s outage of the only server, and the death of the cluster node
 * clients are connected to. No call may fail; registrations and subscriptions must be redone.
 */
describe('Nacos over gRPC: outage and cluster failover under continuous calls', () => {
  let fx: DiscoveryFixture<NacosGrpcTestServer> | undefined;
  const nodes: NacosGrpcTestServer[] = [];

  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });


  const OUTAGE_MS = 30_000;

  it(`serves every call through a ${OUTAGE_MS / 1000} s outage; on return registrations and subscriptions are redone`, async () => {
    fx = await DiscoveryFixture.createGrpc();
    const p1 = await fx.startProvider('p1');
    const p2 = await fx.startProvider('p2');
    const consumer = fx.consumer();
    const { client } = consumer;
    await fx.waitConnected(consumer, [p1.address, p2.address]);
    const loop = fx.callLoop(client);
    const samples: string[] = [];
    const sampler = setInterval(() => samples.push([...client.providers].sort().join()), 50);
    try {
      await sleep(200);
      await fx.nacos.stop();
      await sleep(OUTAGE_MS);
      const before = [p1.address, p2.address].sort().join();
      expect(new Set(samples)).toEqual(new Set([before]));

      const back = performance.now();
      await fx.nacos.start();
      await waitFor(() => fx!.registeredPorts().length === 2 && fx!.nacos.subscriberCount(SERVICE) >= 1, 5000, 'redo');
      const redoMs = performance.now() - back;
      console.log(`[measure] after a ${OUTAGE_MS / 1000} s outage, registrations + subscription redone ${redoMs.toFixed(0)} ms after Nacos returned`);
      expect(redoMs).toBeLessThan(3000);

      // The subscription is live again: a provider started now is discovered and called.
      const p3 = await fx.startProvider('p3');
      await waitFor(() => client.providers.includes(p3.address), 3000, 'p3 discovered');
      await waitFor(() => loop.answeredSince(Date.now() - 300).has('p3'), 3000, 'p3 answering');
    } finally {
      clearInterval(sampler);
    }
    const result = await loop.stop();
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
  }, 60_000);

  it('a 3-node cluster: the node clients are connected to dies; they move on, redo, and no call fails', async () => {
    const store = new NacosGrpcTestStore();
    for (const name of ['n1', 'n2', 'n3']) {
      const n = new NacosGrpcTestServer({ name, store, pushDelayMs: 20, subscribePushDelayMs: 50, orphanExpiryMs: 1500 });
      await n.start();
      nodes.push(n);
    }
    const serverList = nodes.map((n) => n.address);
    fx = await DiscoveryFixture.createGrpc({ nacosServer: nodes[0], registry: { serverList } });
    const p1 = await fx.startProvider('p1');
    const p2 = await fx.startProvider('p2');
    const consumer = fx.consumer();
    const { client } = consumer;
    await fx.waitConnected(consumer, [p1.address, p2.address]);
    const loop = fx.callLoop(client);
    await sleep(200);

    // The node that holds p1's registration (and maybe others) dies.
    const publications = () => store.publications('public', `DEFAULT_GROUP@@${SERVICE}`);
    const victimName = publications().find((p) => p.ports.includes(p1.port))!.clientId.split('/')[0];
    const victim = nodes.find((n) => n.name === victimName)!;
    const clientsOnVictim = victim.connections().length;
    const diedAt = performance.now();
    await victim.stop();
    const live = () => publications().filter((p) => !p.orphan).flatMap((p) => p.ports).sort();
    await waitFor(() => live().join() === [p1.port, p2.port].sort().join(), 5000, 'both re-registered on live nodes');
    const failoverMs = performance.now() - diedAt;
    console.log(`[measure] node ${victimName} (${clientsOnVictim} client connections) died: registrations redone on the other nodes after ${failoverMs.toFixed(0)} ms`);
    // The dead node's copies expire (1.5 s here, 3 min in Nacos); the redone ones remain.
    await waitFor(() => publications().every((p) => !p.orphan), 4000, 'orphans expired');
    expect(fx.registeredPorts()).toEqual([p1.port, p2.port].sort((a, b) => a - b));
    // Subscriptions moved too: a provider started now reaches the consumer.
    const p3 = await fx.startProvider('p3');
    await waitFor(() => client.providers.includes(p3.address), 3000, 'p3 discovered after failover');
    const result = await loop.stop();
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
  });
});
