import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { MsRpcRecordBuilder, NoProviderError } from '../../lib/index.js';
import type { ChannelCache } from '../../lib/channel/channel-cache.js';
import { startChildProvider, type ChildProvider } from '../support/child-provider.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { DiscoveryFixture } from '../support/nacos-discovery-fixture.js';
import { testClient } from '../support/test-client.js';

/**
 * Found by the chaos soak: a provider that comes back on the same address was used again only
 * at the consumer's next reconnect backoff tick, which after a few seconds of outage is seconds
 * away (up to the 30 s cap after long ones). The consumer now reconnects at once when something
 * says the provider may be back — the registry announcing it again, or a call waiting with
 * nothing ready — without letting those hints hammer a dead provider or get it evicted early.
 *
 * Backoff here: 100 ms × 4^n, no jitter: attempts 100, 500, 2100 ms after the loss, the next
 * one at 8500 ms. A provider back at ~2.4 s waited ~6 s for it before the fix.
 */
const SLOW_BACKOFF = { initialDelay: 100, factor: 4, maxDelay: 30_000, jitter: 0, maxAttempts: 0 };

describe('reconnecting without waiting out the backoff', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('a call waiting for a provider that is back reconnects at once instead of at the next backoff tick', async () => {
    let child: ChildProvider = await startChildProvider();
    cleanups.push(() => child.stop());
    const { client, states } = testClient(child.port, { timeout: 3000, backoff: SLOW_BACKOFF });
    cleanups.push(() => client.close());
    await client.connect();

    await child.kill();
    const lostAt = performance.now();
    // The three quick attempts (100, 500, 2100 ms) fail; the next one is due at 8500 ms.
    await waitUntil(() => states.filter((s) => s.to === 'connecting').length >= 3, 4000, 'three refused attempts');
    await sleep(Math.max(0, 2400 - (performance.now() - lostAt)));
    child = await startChildProvider({ port: child.port });

    const answered = await timed(firstValueFrom(client.send<number>('pid', new MsRpcRecordBuilder({}).setWaitForReady().build())));
    expect(answered.error).toBeUndefined();
    expect(answered.value).toBe(child.pid);
    // Before: ~6 s until the backoff tick, so this 3 s call failed with RpcTimeoutError.
    expect(answered.ms).toBeLessThan(1000);
    expect(performance.now() - lostAt).toBeLessThan(8500 - 1000);
  }, 20_000);

  it('hints from failing calls neither hammer a dead provider nor use up its reconnect attempts', async () => {
    const child = await startChildProvider();
    cleanups.push(() => child.stop());
    // Three regular attempts (100, 500, 2100 ms), then eviction.
    const { client, states } = testClient(child.port, { timeout: 150, backoff: { ...SLOW_BACKOFF, maxAttempts: 3 } });
    cleanups.push(() => client.close());
    const evictedAt: number[] = [];
    client.on('evicted', () => evictedAt.push(performance.now()));
    await client.connect();

    await child.kill();
    const lostAt = performance.now();
    // A call every 20 ms for 1.5 s, each finding nothing ready (failing fast) and asking for a reconnect.
    const calls: Array<Promise<unknown>> = [];
    while (performance.now() - lostAt < 1500) {
      calls.push(firstValueFrom(client.send('pid', {})).catch((err: unknown) => err));
      await sleep(20);
    }
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o instanceof NoProviderError).length).toBeGreaterThan(outcomes.length / 2);
    const elapsed = performance.now() - lostAt;
    const attempts = states.filter((s) => s.to === 'connecting' && s.at > lostAt).length;
    // Hurried attempts happened (the two regular ones in this window alone would be 2)...
    expect(attempts).toBeGreaterThan(4);
    // ...at most one per 50 ms (HURRY_GAP_MS) besides the regular ones, not one per call (75 calls).
    expect(attempts).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 3);
    // ...and none of them counted as a backoff attempt: eviction still follows the third regular one.
    expect(evictedAt).toEqual([]);
    await waitUntil(() => evictedAt.length > 0, 4000, 'eviction after the regular attempts');
    expect(evictedAt[0] - lostAt).toBeGreaterThan(1900);
  }, 20_000);

  it('a provider restarted on the same address is used again as soon as Nacos announces it', async () => {
    // Nacos must still list the crashed provider when it comes back (real Nacos: 15 s), so the
    // consumer sees a changed registration of a known provider, not a new one.
    const fx = await DiscoveryFixture.create({ nacos: { heartbeatTimeoutMs: 20_000, deleteTimeoutMs: 40_000 } });
    cleanups.push(() => fx.dispose());
    const p1 = await fx.startProvider('p1');
    const { client } = fx.consumer({ backoff: SLOW_BACKOFF });
    const channels = client.unwrap<ChannelCache>();
    await expect(firstValueFrom(client.send('whoami', {}))).resolves.toBe('p1');

    await p1.crash();
    const lostAt = performance.now();
    await waitUntil(() => channels.get(p1.address)?.[0]?.state === 'transient-failure', 2000, 'connection lost');
    await sleep(Math.max(0, 2400 - (performance.now() - lostAt)));
    const p1b = await fx.startProvider('p1b', { server: { port: p1.port } });
    const restartedAt = performance.now();

    // No call is waiting: only the registry's announcement can bring the connection back early.
    await waitUntil(() => channels.pickAvailable(p1.address) !== undefined, 5000, 'reconnected to the restarted provider');
    const lag = performance.now() - restartedAt;
    console.info(`[reconnect] provider restarted on the same address: consumer reconnected ${Math.round(lag)} ms after the restart`);
    expect(lag).toBeLessThan(1500);
    expect(performance.now() - lostAt).toBeLessThan(8500 - 1000);
    await expect(firstValueFrom(client.send('whoami', {}))).resolves.toBe(p1b.name);
  }, 20_000);
});
