import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import { MsRpcRecordBuilder, ServerBusyError, type MsRpcClient } from '../../lib/index.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';
import { testClient } from '../support/test-client.js';
import { waitUntil } from '../support/loopback-utils.js';

describe('server protection: maxConcurrentRequests', () => {
  const providers: TestProvider[] = [];
  const clients: MsRpcClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(providers.splice(0).map((p) => p.close()));
  });

  it('refuses requests above the limit at once with a typed ServerBusyError, and frees slots', async () => {
    const p = await startTestProvider({ maxConcurrentRequests: 2 });
    providers.push(p);
    const { client } = testClient(p.port, { timeout: 3000 });
    clients.push(client);
    await client.connect();

    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => firstValueFrom(client.send('delay', { ms: 300, value: i }))),
    );
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    const answered = results.filter((r) => r.status === 'fulfilled');
    expect(answered).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const err of refused) {
      expect(err).toBeInstanceOf(ServerBusyError);
      expect(err.code).toBe('ERR_SERVER_BUSY');
    }
    // The refusals did not wait for the slow calls (the accepted ones take 300 ms).
    expect(performance.now() - started).toBeLessThan(2000);

    await waitUntil(() => p.server.inFlightRequests === 0, 2000, 'slots released');
    await expect(firstValueFrom(client.send('echo', 'again'))).resolves.toBe('again');
  });

  it('lets idempotent calls fail over to a provider with room', async () => {
    const busy = await startTestProvider({ maxConcurrentRequests: 1 });
    const roomy = await startTestProvider();
    providers.push(busy, roomy);
    const { client } = testClient([busy.port, roomy.port], {
      timeout: 3000,
      balancer: { strategy: 'round-robin', warmup: false },
      retryBudget: { ratio: 1 },
    });
    clients.push(client);
    await client.connect();
    await waitUntil(() => client.readyProviderCount() === 2, 2000, 'both providers ready');

    const calls = Array.from({ length: 10 }, (_, i) =>
      firstValueFrom(client.send('delay', new MsRpcRecordBuilder({ ms: 100, value: i }).setRetries(2).build())),
    );
    await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});
