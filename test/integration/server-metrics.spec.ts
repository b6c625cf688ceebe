import { afterAll, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import type { MsRpcClient } from '../../lib/index.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';
import { testClient } from '../support/test-client.js';
import { waitUntil } from '../support/loopback-utils.js';

describe('server metrics', () => {
  let provider: TestProvider | undefined;
  let client: MsRpcClient | undefined;

  afterAll(async () => {
    await client?.close();
    await provider?.close();
  });

  it('counts what the server answered, per pattern, including errors and cancellations', async () => {
    provider = await startTestProvider();
    ({ client } = testClient(provider.port, { timeout: 2000 }));
    for (let i = 0; i < 3; i++) await firstValueFrom(client.send('echo', i));
    // The client knows from the server's Hello that nobody serves it: the server never sees it.
    await expect(firstValueFrom(client.send('no-such-pattern', {}))).rejects.toMatchObject({ code: 'ERR_NO_HANDLER' });
    const sub = client.send('hang', { id: 'h1' }).subscribe({ error: () => undefined });
    await waitUntil(() => provider!.probe.started.has('h1'), 2000, 'hang started');
    sub.unsubscribe();
    await waitUntil(() => provider!.server.inFlightRequests === 0, 2000, 'cancel processed');

    const snapshot = provider.server.metrics!.snapshot();
    const byPattern = Object.fromEntries(snapshot.patterns.map((p) => [p.pattern, p]));
    expect(byPattern.echo).toMatchObject({ started: 3, succeeded: 3, failed: 0 });
    expect(byPattern['no-such-pattern']).toBeUndefined();
    expect(byPattern.hang).toMatchObject({ started: 1, cancelled: 1, inFlight: 0 });
    expect(provider.server.metrics!.toPrometheus('msrpc_server')).toContain('msrpc_server_calls_started_total{pattern="echo"} 3');
  });
});
