import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { reservePort, sleep, timed } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * Found by the chaos soak (two providers down, one frozen or killed, the third the only one
 * left): an idempotent retry never goes back to a provider that failed it while other providers
 * are known, and it used to wait for those others until its deadline even when they were dead
 * and the provider that failed it was ready again (its connection dropped once and came back, or
 * it refused once as busy). Now the retry holds the failed provider back for a short grace
 * (200 ms) only, then takes any ready one.
 */
describe('a retry goes back to the provider that failed it when no other one comes up', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** `live` plus two addresses nobody listens on (known to the client, never ready). */
  async function clientWithDeadPeers(live: TestProvider) {
    const dead = [await reservePort(), await reservePort()];
    const { client } = testClient([live.port, ...dead], {
      timeout: 2000,
      retries: 2,
      idempotentPatterns: ['delay', 'echo'],
      // Slow reconnects to the dead ones: they stay down for the whole call.
      backoff: { initialDelay: 1000, factor: 2, maxDelay: 5000, jitter: 0 },
    });
    cleanups.push(() => client.close());
    await client.connect();
    return client;
  }

  it('after a connection drop of the only live provider', async () => {
    const live = await startTestProvider();
    cleanups.push(() => live.close());
    const client = await clientWithDeadPeers(live);

    const call = timed(firstValueFrom(client.send('delay', { ms: 300, value: 'ok', id: 'flap' })));
    await sleep(50);
    live.destroySockets();
    const result = await call;

    // Before: RpcTimeoutError after 2000 ms, waiting for the two dead providers.
    expect(result.error).toBeUndefined();
    expect(result.value).toBe('ok');
    expect(result.ms).toBeLessThan(1500);
  });

  it('after a busy refusal by the only live provider', async () => {
    const live = await startTestProvider({ maxConcurrentRequests: 1 });
    cleanups.push(() => live.close());
    const client = await clientWithDeadPeers(live);

    const occupying = firstValueFrom(client.send('delay', { ms: 300, value: 'first' }));
    await sleep(20);
    const refusedOnce = timed(firstValueFrom(client.send('echo', 'second')));
    await expect(occupying).resolves.toBe('first');
    const result = await refusedOnce;

    expect(result.error).toBeUndefined();
    expect(result.value).toBe('second');
    expect(result.ms).toBeLessThan(1500);
  });
});
