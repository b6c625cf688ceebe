import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import {
  ConnectionClosedError,
  FrameTooLargeError,
  MsRpcClient,
  RpcTimeoutError,
  type MsRpcClientStatus,
} from '../../lib/index.js';
import { DEFAULT_CLIENT_OPTIONS } from '../../lib/client/client-options.js';
import { startChildProvider, type ChildProvider } from '../support/child-provider.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { testClient, type StateEvent } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

describe('calls over one multiplexed connection (real Nest provider on loopback)', () => {
  let provider: TestProvider;
  const clients: MsRpcClient[] = [];
  const track = (c: ReturnType<typeof testClient>) => (clients.push(c.client), c);

  beforeAll(async () => {
    provider = await startTestProvider();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await provider.close();
  });

  it('matches 500 concurrent in-flight calls to their answers by request id, on ONE socket', async () => {
    // About multiplexing, not liveness: relaxed heartbeats keep a starved CI box from mattering.
    const { client } = track(testClient(provider.port, { timeout: 10_000, heartbeatInterval: 1000, heartbeatTimeout: 5000 }));
    const acceptedBefore = provider.accepted();
    const calls = Array.from({ length: 500 }, (_, i) =>
      firstValueFrom(client.send<{ i: number; tag: string }>('delay', { ms: Math.floor(Math.random() * 40), value: { i, tag: `call-${i}` } })),
    );
    const answers = await Promise.all(calls);
    answers.forEach((answer, i) => expect(answer).toEqual({ i, tag: `call-${i}` }));
    expect(provider.accepted() - acceptedBefore).toBe(1);
  });

  it('delivers every value of a streaming handler in order, then completes', async () => {
    const { client } = track(testClient(provider.port));
    const values = await lastValueFrom(client.send<number>('stream', { count: 25, every: 2 }).pipe(toArray()));
    expect(values).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('unsubscribing mid-stream sends a cancel and the server tears the handler stream down', async () => {
    const { client } = track(testClient(provider.port));
    const got = await lastValueFrom(client.send<number>('ticker', { id: 'cancel-mid-stream', every: 10 }).pipe(take(3), toArray()));
    expect(got).toEqual([0, 1, 2]);
    await waitUntil(() => provider.probe.finalized.has('cancel-mid-stream'), 3000, 'server-side finalize');
    const emitted = provider.probe.emitted.get('cancel-mid-stream')!;
    await sleep(100);
    expect(provider.probe.emitted.get('cancel-mid-stream')).toBe(emitted);
  });

  it('a cancel that arrives before an async handler produced its stream still stops that stream', async () => {
    const { client } = track(testClient(provider.port));
    await client.connect();
    const sub = client.send('ticker', { id: 'cancel-early', every: 10, startDelay: 150 }).subscribe({ error: () => undefined });
    await waitUntil(() => provider.probe.started.has('cancel-early'), 3000, 'handler start');
    sub.unsubscribe();
    // The handler returns its stream only after startDelay, when the Cancel is long gone: the
    // stream must still be stopped (never started), not tick unobserved forever.
    await sleep(150 + 200);
    expect(provider.probe.emitted.get('cancel-early') ?? 0).toBe(0);
  });

  it('a call that outlives its timeout fails with RpcTimeoutError and the server stops its handler', async () => {
    const { client, states } = track(testClient(provider.port, { timeout: 200 }));
    await client.connect();
    const result = await timed(firstValueFrom(client.send('hang', { id: 'timed-out' })));
    expect(result.error).toBeInstanceOf(RpcTimeoutError);
    expect(result.error).toMatchObject({ code: 'ERR_RPC_TIMEOUT', timeoutMs: 200 });
    expect(result.ms).toBeGreaterThanOrEqual(190);
    expect(result.ms).toBeLessThan(1500);
    // The timeout sent a Cancel: the handler stream on the server is torn down.
    await waitUntil(() => provider.probe.finalized.has('timed-out'), 3000, 'cancel after timeout');
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
  });

  it('never hangs: with no timeout configured the default one applies', async () => {
    const { client } = track(testClient(provider.port, { timeout: undefined }));
    await client.connect();
    const result = await timed(firstValueFrom(client.send('hang', { id: 'default-timeout' })));
    expect(result.error).toBeInstanceOf(RpcTimeoutError);
    expect((result.error as RpcTimeoutError).timeoutMs).toBe(DEFAULT_CLIENT_OPTIONS.timeout);
    expect(result.ms).toBeGreaterThanOrEqual(DEFAULT_CLIENT_OPTIONS.timeout - 10);
    expect(result.ms).toBeLessThan(DEFAULT_CLIENT_OPTIONS.timeout + 2000);
  });

  it('fails a pending call AT ONCE with ConnectionClosedError when the server destroys the socket', async () => {
    const { client } = track(testClient(provider.port, { timeout: 10_000 }));
    await client.connect();
    const call = timed(firstValueFrom(client.send('hang', { id: 'socket-destroyed' })));
    await waitUntil(() => provider.probe.started.has('socket-destroyed'), 3000, 'handler start');
    const destroyedAt = performance.now();
    provider.destroySockets();
    const result = await call;
    expect(result.error).toBeInstanceOf(ConnectionClosedError);
    expect(result.error).toMatchObject({ code: 'ERR_CONNECTION_CLOSED', address: provider.address });
    // Well before the 10 s timeout: the close itself fails the call.
    expect(performance.now() - destroyedAt).toBeLessThan(1000);
    // And the client comes back by itself.
    await expect(firstValueFrom(client.send('echo', 'again'))).resolves.toBe('again');
  });

  it('rejects a request above the client maxFrameSize at once with FrameTooLargeError; the connection stays usable', async () => {
    const { client, states } = track(testClient(provider.port, { maxFrameSize: 64 * 1024 }));
    await client.connect();
    const result = await timed(firstValueFrom(client.send('length', 'y'.repeat(100_000))));
    expect(result.error).toBeInstanceOf(FrameTooLargeError);
    expect(result.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', limit: 64 * 1024 });
    expect(result.ms).toBeLessThan(500);
    await expect(firstValueFrom(client.send('length', 'y'.repeat(1000)))).resolves.toBe(1000);
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
  });

  it("rejects a request above the SERVER's announced maxFrameSize at once, without dropping other calls", async () => {
    const small = await startTestProvider({ maxFrameSize: 64 * 1024 });
    try {
      const { client, states } = track(testClient(small.port, { timeout: 5000 }));
      await client.connect();
      const inFlight = firstValueFrom(client.send('delay', { ms: 100, value: 'survivor' }));
      const result = await timed(firstValueFrom(client.send('length', 'y'.repeat(100_000))));
      expect(result.error).toBeInstanceOf(FrameTooLargeError);
      expect(result.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', limit: 64 * 1024 });
      expect(result.ms).toBeLessThan(500);
      await expect(inFlight).resolves.toBe('survivor');
      expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
      expect(small.accepted()).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('answers a response too large for the server limit with a typed error; the connection stays usable', async () => {
    const small = await startTestProvider({ maxFrameSize: 64 * 1024 });
    try {
      const { client, states } = track(testClient(small.port));
      await expect(firstValueFrom(client.send('big', { size: 100_000 }))).rejects.toMatchObject({
        code: 'ERR_FRAME_TOO_LARGE',
        name: 'FrameTooLargeError',
      });
      await expect(firstValueFrom(client.send('big', { size: 10 }))).resolves.toBe('x'.repeat(10));
      expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it("reports status and connection-state events with the provider's address", async () => {
    const own = await startTestProvider();
    const { client, states } = track(testClient(own.port));
    const statuses: MsRpcClientStatus[] = [];
    const observed: string[] = [];
    client.on('status', (s) => statuses.push(s));
    const sub = client.status.subscribe((s) => observed.push(s));
    try {
      await client.connect();
      expect(statuses).toEqual(['connected']);
      own.destroySockets();
      await waitUntil(() => statuses.length === 2, 3000, 'disconnected status');
      expect(statuses).toEqual(['connected', 'disconnected']);
      await waitUntil(() => statuses.length === 3, 3000, 'reconnected status');
      expect(statuses).toEqual(['connected', 'disconnected', 'connected']);
      expect(observed).toEqual(['disconnected', 'connected', 'disconnected', 'connected']);

      const transitions = states.map(({ address, from, to }) => ({ address, from, to }));
      expect(transitions.slice(0, 3)).toEqual([
        { address: own.address, from: 'idle', to: 'connecting' },
        { address: own.address, from: 'connecting', to: 'ready' },
        { address: own.address, from: 'ready', to: 'transient-failure' },
      ]);
      expect(states[2].reason).toBeInstanceOf(ConnectionClosedError);
      expect(transitions.slice(3)).toEqual([
        { address: own.address, from: 'transient-failure', to: 'connecting' },
        { address: own.address, from: 'connecting', to: 'ready' },
      ]);
    } finally {
      sub.unsubscribe();
      await client.close();
      await own.close();
    }
  });
});

describe('late answers (raw-frame child provider that ignores cancels)', () => {
  let child: ChildProvider;
  let client: MsRpcClient;
  let states: StateEvent[];

  beforeAll(async () => {
    child = await startChildProvider();
  });
  afterAll(async () => {
    await client?.close();
    await child?.stop();
  });

  it('ignores an answer that arrives after the call timed out; later calls get their own answers', async () => {
    ({ client, states } = testClient(child.port, { timeout: 400 }));
    await client.connect();
    const late = await timed(firstValueFrom(client.send('late', { ms: 500, value: 'too late' })));
    expect(late.error).toBeInstanceOf(RpcTimeoutError);
    // The late answer arrives ~100 ms from now, while this call is pending: it must not take it.
    const next = firstValueFrom(client.send('delay', { ms: 250, value: 'mine' }));
    await sleep(150);
    const more = await Promise.all([next, firstValueFrom(client.send('echo', 'fresh'))]);
    expect(more).toEqual(['mine', 'fresh']);
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
  });
});
