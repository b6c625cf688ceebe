import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { firstValueFrom } from 'rxjs';
import {
  ClientClosedError,
  ConnectionClosedError,
  MsRpcRecordBuilder,
  NoProviderError,
  RpcTimeoutError,
  StaticRegistry,
} from '../../lib/index.js';
import { startChildProvider, type ChildProvider } from '../support/child-provider.js';
import { reservePort, sleep, timed, TrackingClock, waitUntil } from '../support/loopback-utils.js';
import { FAST_LIVENESS, testClient } from '../support/test-client.js';
import { startTestProvider } from '../support/test-provider.js';

describe('reconnects, eviction and wait-for-ready on loopback', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const client = (...args: Parameters<typeof testClient>) => {
    const c = testClient(...args);
    cleanups.push(() => c.client.close());
    return c;
  };

  it('a provider killed mid-call fails the call at once; restarted on the same port, calls resume by themselves', async () => {
    let child: ChildProvider = await startChildProvider();
    cleanups.push(() => child.stop());
    const port = child.port;
    const { client: c, states } = client(port, { timeout: 10_000, backoff: { ...FAST_LIVENESS.backoff, maxAttempts: 0 } });
    const firstPid = await firstValueFrom(c.send<number>('pid', {}));
    expect(firstPid).toBe(child.pid);

    const pending = timed(firstValueFrom(c.send('hang', {})));
    await sleep(50);
    const killedAt = performance.now();
    await child.kill();
    const failed = await pending;
    expect(failed.error).toBeInstanceOf(ConnectionClosedError);
    // Far below the 10 s call timeout: the socket close fails it, not a timer.
    expect(performance.now() - killedAt).toBeLessThan(1000);

    // While the provider is down, a call fails fast with the reason (gRPC's default)...
    const refused = await timed(firstValueFrom(c.send<number>('pid', {})));
    expect(refused.error).toBeInstanceOf(NoProviderError);
    expect((refused.error as Error).message).toContain(`127.0.0.1:${port}: connect ECONNREFUSED`);
    expect(refused.ms).toBeLessThan(500);
    // ...and one that waits for ready waits for it instead.
    const waiting = firstValueFrom(c.send<number>('pid', new MsRpcRecordBuilder({}).setWaitForReady().build()));
    await sleep(300); // several refused reconnect attempts
    expect(states.filter((s) => s.to === 'transient-failure').length).toBeGreaterThanOrEqual(2);

    child = await startChildProvider({ port });
    const restartedAt = performance.now();
    const newPid = await waiting;
    const resumedAfter = performance.now() - restartedAt;
    expect(newPid).toBe(child.pid);
    expect(newPid).not.toBe(firstPid);
    const readyAt = states.filter((s) => s.to === 'ready').at(-1)!.at;
    // The waiting call hurries reconnects (one per 50 ms), instead of the backoff's pace.
    expect(readyAt - restartedAt).toBeLessThan(500);
    expect(resumedAfter).toBeLessThan(600);
    console.info(
      `[reconnect] provider restarted on the same port: connection ready ${Math.round(readyAt - restartedAt)} ms, ` +
        `waiting call answered ${Math.round(resumedAfter)} ms after the new process listened ` +
        `(${Math.round(performance.now() - killedAt)} ms after SIGKILL, outage included)`,
    );
    await expect(firstValueFrom(c.send('echo', 'resumed'))).resolves.toBe('resumed');
  });

  it('evicts a provider that is gone after the last attempt: still known and probed, calls fail fast, or time out waiting', async () => {
    const provider = await startTestProvider();
    cleanups.push(() => provider.close());
    const { client: c, states } = client(provider.port, {
      timeout: 400,
      backoff: { ...FAST_LIVENESS.backoff, maxDelay: 150, maxAttempts: 3 },
    });
    const evictions: Array<{ address: string; attempts: number; reason?: Error }> = [];
    c.on('evicted', (e) => evictions.push(e));
    await c.connect();
    expect(c.providers).toEqual([provider.address]);

    const goneAt = performance.now();
    await provider.close();
    await waitUntil(() => evictions.length > 0, 5000, 'eviction');
    const evictedAfter = performance.now() - goneAt;
    expect(evictions[0]).toMatchObject({ address: provider.address, attempts: 3 });
    // Out of load balancing, not out of existence: still listed, and probed at the backoff cap.
    expect(c.providers).toEqual([provider.address]);
    const failuresAtEviction = states.filter((s) => s.to === 'transient-failure').length;
    await sleep(500);
    expect(states.filter((s) => s.to === 'transient-failure').length - failuresAtEviction).toBeGreaterThanOrEqual(2);
    console.info(`[reconnect] provider gone: evicted ${Math.round(evictedAfter)} ms later (maxAttempts 3), probed every ~150 ms`);

    const later = await timed(firstValueFrom(c.send('echo', 'anyone?')));
    expect(later.error).toBeInstanceOf(NoProviderError);
    expect(later.ms).toBeLessThan(300);
    const waited = await timed(firstValueFrom(c.send('echo', new MsRpcRecordBuilder('anyone?').setWaitForReady().build())));
    expect(waited.error).toBeInstanceOf(RpcTimeoutError);
    const cause = (waited.error as RpcTimeoutError).cause as NoProviderError;
    expect(cause).toBeInstanceOf(NoProviderError);
    expect(cause.failures.map((f) => f.address)).toEqual([provider.address]);
    expect((waited.error as Error).message).toContain('ECONNREFUSED');
    expect(waited.ms).toBeGreaterThanOrEqual(390);
    expect(waited.ms).toBeLessThan(2000);
  });

  it('an evicted provider that comes back on its address is re-admitted by a probe', async () => {
    const first = await startTestProvider();
    cleanups.push(() => first.close());
    const port = first.port;
    const { client: c } = client(port, { timeout: 3000, backoff: { ...FAST_LIVENESS.backoff, maxAttempts: 2 } });
    const evictions: string[] = [];
    const readmissions: string[] = [];
    c.on('evicted', (e) => evictions.push(e.address));
    c.on('readmitted', (e) => readmissions.push(e.address));
    await c.connect();
    await first.close();
    await waitUntil(() => evictions.length === 1, 5000, 'eviction');
    const second = await startTestProvider({ port });
    cleanups.push(() => second.close());
    await waitUntil(() => readmissions.length === 1, 2000, 're-admission');
    await expect(firstValueFrom(c.send('echo', 'welcome back'))).resolves.toBe('welcome back');
    expect(c.providers).toEqual([`127.0.0.1:${port}`]);
  });

  it('a provider shutting down gracefully finishes in-flight calls; new calls go to the other provider', async () => {
    const leaving = await startTestProvider({ shutdownTimeout: 2000 });
    const staying = await startTestProvider();
    cleanups.push(() => leaving.close(), () => staying.close());
    // Discovery knows only the leaving provider at first, so the in-flight calls all go there.
    const registry = new StaticRegistry([leaving.address]);
    const { client: c, states } = client([], { service: 'drain', providers: undefined, registry, snapshotDir: false, timeout: 3000 });
    await c.connect();
    const ids = Array.from({ length: 20 }, (_, i) => `drain-${i}`);
    const inFlight = ids.map((id) => firstValueFrom(c.send('delay', { ms: 300, value: id, id })));
    await waitUntil(() => ids.every((id) => leaving.probe.started.has(id)), 3000, 'calls on the leaving provider');
    registry.setInstances([leaving.address, staying.address]);
    await waitUntil(() => staying.sockets.size === 1, 3000, 'second provider connected');

    const closing = leaving.close(); // GoAway, then waits for the in-flight calls
    await sleep(50);
    const during = await Promise.all(Array.from({ length: 20 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(during).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await expect(Promise.all(inFlight)).resolves.toEqual(ids);
    await closing;
    // The drained connection ended without failing a call; the other one never wavered.
    expect(states.filter((s) => s.address === staying.address && s.to === 'transient-failure')).toEqual([]);
  });

  it('a call made before any provider is up waits for it with waitForReady (provider starts 200 ms later)', async () => {
    const port = await reservePort();
    const { client: c } = client(port, { timeout: 5000, waitForReady: true });
    const call = timed(firstValueFrom(c.send('echo', 'early bird')));
    await sleep(200);
    const provider = await startTestProvider({ port });
    cleanups.push(() => provider.close());
    const result = await call;
    expect(result.value).toBe('early bird');
    expect(result.ms).toBeGreaterThanOrEqual(190);
  });

  it('connect() resolves once a provider is ready, with waitForReady', async () => {
    const port = await reservePort();
    const { client: c } = client(port, { connectTimeout: 5000, waitForReady: true });
    const connecting = timed(c.connect());
    await sleep(150);
    const provider = await startTestProvider({ port });
    cleanups.push(() => provider.close());
    const result = await connecting;
    expect(result.ok).toBe(true);
    expect(result.ms).toBeGreaterThanOrEqual(140);
    expect(result.ms).toBeLessThan(3000);
  });

  it('connect() rejects with NoProviderError at once when the provider refuses, after connectTimeout with waitForReady', async () => {
    const port = await reservePort();
    const fast = await timed(client(port, { connectTimeout: 300 }).client.connect());
    expect(fast.error).toBeInstanceOf(NoProviderError);
    expect((fast.error as Error).message).toContain('ECONNREFUSED');
    expect(fast.ms).toBeLessThan(200);
    const result = await timed(client(port, { connectTimeout: 300, waitForReady: true }).client.connect());
    expect(result.error).toBeInstanceOf(NoProviderError);
    expect(result.error).toMatchObject({ code: 'ERR_NO_PROVIDER' });
    expect(result.ms).toBeGreaterThanOrEqual(290);
    expect(result.ms).toBeLessThan(1500);
  });

  it('close() fails waiting calls with ClientClosedError, cancels pending reconnects and leaves no timer', async () => {
    const port = await reservePort();
    const clock = new TrackingClock();
    const { client: c } = client(
      port,
      { timeout: 10_000, waitForReady: true, backoff: { ...FAST_LIVENESS.backoff, maxAttempts: 0 } },
      clock,
    );
    const waiting = timed(firstValueFrom(c.send('echo', 'never sent')));
    await sleep(150); // the watchdog is now cycling through refused attempts
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await c.close();
    const result = await waiting;
    expect(result.error).toBeInstanceOf(ClientClosedError);
    expect(result.ms).toBeLessThan(1000);
    expect(clock.pendingTimers).toBe(0);

    // Nothing dials the address any more once closed.
    let accepted = 0;
    const listener: Server = createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    await sleep(400);
    expect(accepted).toBe(0);
  });

  it('close() fails in-flight calls at once with a typed error and the server stops their handlers', async () => {
    const provider = await startTestProvider();
    cleanups.push(() => provider.close());
    const clock = new TrackingClock();
    const { client: c } = client(provider.port, { timeout: 10_000 }, clock);
    await c.connect();
    const inFlight = timed(firstValueFrom(c.send('hang', { id: 'closed-by-client' })));
    await waitUntil(() => provider.probe.started.has('closed-by-client'), 3000, 'handler start');
    await c.close();
    const result = await inFlight;
    expect(result.error).toBeInstanceOf(ConnectionClosedError);
    expect((result.error as Error).message).toContain('client closed');
    expect(result.ms).toBeLessThan(1000);
    expect(clock.pendingTimers).toBe(0);
    await waitUntil(() => provider.probe.finalized.has('closed-by-client'), 3000, 'server-side teardown');
  });
});
