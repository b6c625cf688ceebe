import { afterEach, describe, expect, it } from '@jest/globals';
import { connect as netConnect } from 'node:net';
import { firstValueFrom } from 'rxjs';
import {
  ConnectionClosedError,
  ConnectTimeoutError,
  MsRpcClient,
  NoProviderError,
} from '../../lib/index.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { startBlackHole, type BlackHole } from '../support/black-hole-server.js';
import { startChildProvider, type ChildProvider } from '../support/child-provider.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { FAST_LIVENESS, testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

const { heartbeatInterval, heartbeatTimeout } = FAST_LIVENESS;

describe('liveness on loopback', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  const later = <T extends { close?: () => Promise<unknown>; stop?: () => Promise<unknown> }>(thing: T): T => {
    cleanups.push(() => (thing.stop ?? thing.close)!.call(thing));
    return thing;
  };
  const client = (...args: Parameters<typeof testClient>) => {
    const c = testClient(...args);
    later(c.client as MsRpcClient);
    return c;
  };
  afterEach(async () => {
    // Clients first (they hold sockets to the providers), then providers and children.
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('detects a provider that accepted, said Hello and went silent within heartbeatTimeout; in-flight calls fail fast', async () => {
    const hole: BlackHole = later(await startBlackHole({ sendHello: true }));
    const { client: c, states } = client(hole.port, { timeout: 10_000 });
    await c.connect();
    const helloAt = performance.now();
    const result = await timed(firstValueFrom(c.send('anything', {})));
    const detectedAfter = performance.now() - helloAt;
    expect(result.error).toBeInstanceOf(ConnectionClosedError);
    expect((result.error as Error).message).toContain('heartbeat timeout');
    // The Hello was the last byte read: the heartbeat deadline is measured from it.
    expect(detectedAfter).toBeGreaterThanOrEqual(heartbeatTimeout - 20);
    expect(detectedAfter).toBeLessThan(heartbeatTimeout + 700);
    expect(states.find((s) => s.to === 'transient-failure')?.reason?.message).toContain('heartbeat timeout');
    console.info(`[liveness] silent provider (black hole): call failed ${Math.round(detectedAfter)} ms after the last byte read (heartbeatTimeout ${heartbeatTimeout})`);
  });

  it('detects a SIGSTOPped provider within heartbeatTimeout, stays not-ready while it is frozen, and recovers on SIGCONT', async () => {
    const child: ChildProvider = later(await startChildProvider());
    const { client: c, states } = client(child.port, {
      // Long enough to tell a heartbeat failure (≈ heartbeatTimeout) from a call timeout.
      timeout: 1500,
      connectAttemptTimeout: 300,
      backoff: { ...FAST_LIVENESS.backoff, maxAttempts: 0 },
    });
    await c.connect();
    await expect(firstValueFrom(c.send('echo', 'before'))).resolves.toBe('before');
    const pending = timed(firstValueFrom(c.send('hang', {})));
    await sleep(3 * heartbeatInterval); // pings and pongs flowing
    child.pause();
    const pausedAt = performance.now();
    const result = await pending;
    const detection = performance.now() - pausedAt;
    expect(result.error).toBeInstanceOf(ConnectionClosedError);
    expect((result.error as Error).message).toContain('heartbeat timeout');
    // At least the part of heartbeatTimeout not covered by the last pong (on a loaded machine that
    // pong may be up to two intervals old), at most heartbeatTimeout plus CI slack.
    expect(detection).toBeGreaterThanOrEqual(heartbeatTimeout - 2 * heartbeatInterval - 10);
    expect(detection).toBeLessThan(heartbeatTimeout + 700);
    console.info(`[liveness] SIGSTOPped provider: in-flight call failed ${Math.round(detection)} ms after SIGSTOP (heartbeatTimeout ${heartbeatTimeout})`);

    // Frozen, its kernel still completes TCP handshakes; without a Hello that is not "ready".
    const failedAt = states.length;
    await sleep(900);
    const whileFrozen = states.slice(failedAt);
    expect(whileFrozen.filter((s) => s.to === 'ready')).toEqual([]);
    const timeouts = whileFrozen.filter((s) => s.to === 'transient-failure' && s.reason instanceof ConnectTimeoutError);
    expect(timeouts.length).toBeGreaterThanOrEqual(1);
    // A call waits for the attempt under way, then fails with why it failed, not at its timeout.
    const frozenCall = await timed(firstValueFrom(c.send('echo', 'frozen')));
    expect(frozenCall.error).toBeInstanceOf(NoProviderError);
    expect((frozenCall.error as NoProviderError).failures[0].error).toBeInstanceOf(ConnectTimeoutError);

    child.resume();
    const resumedAt = performance.now();
    await waitUntil(() => c.providers.length === 1 && states.at(-1)?.to === 'ready', 5000, 'reconnect after SIGCONT');
    await expect(firstValueFrom(c.send('echo', 'after'))).resolves.toBe('after');
    console.info(`[liveness] SIGCONT: ready again after ${Math.round(performance.now() - resumedAt)} ms`);
  });

  it('does not declare a slow but healthy provider dead while the client keeps writing (never write-idle)', async () => {
    const provider: TestProvider = later(await startTestProvider());
    const { client: c, states } = client(provider.port, { timeout: 5000 });
    await c.connect();
    // A call every heartbeatInterval/2 for 1.2 s, each answered after 2 x heartbeatTimeout: the
    // client is never write-idle, and no answer is read for 600 ms at a time.
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 24; i++) {
      calls.push(firstValueFrom(c.send('delay', { ms: 2 * heartbeatTimeout, value: i })));
      await sleep(heartbeatInterval / 2);
    }
    await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
    expect(provider.accepted()).toBe(1);
  });

  it("an event-loop stall on the client longer than heartbeatTimeout does not kill a connection whose peer answered meanwhile", async () => {
    const child: ChildProvider = later(await startChildProvider());
    const { client: c, states } = client(child.port, { timeout: 5000 });
    await c.connect();
    await expect(firstValueFrom(c.send('echo', 'warm'))).resolves.toBe('warm');
    const call = firstValueFrom(c.send('delay', { ms: 50, value: 'answered during the stall' }));
    await new Promise((resolve) => setImmediate(resolve)); // writes are flushed once per loop turn: send it now
    // Block this process (GC pause, CPU-bound work) for > 2 x heartbeatTimeout. The answer lands
    // in the socket buffer meanwhile; when the loop resumes, timers run before I/O is polled.
    const until = performance.now() + 2 * heartbeatTimeout + 100;
    while (performance.now() < until) {
      // busy
    }
    await expect(call).resolves.toBe('answered during the stall');
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
  });

  describe('idle pacing (idleHeartbeatInterval)', () => {
    const IDLE_INTERVAL = 600;
    const idleClient = (port: number, extra: Parameters<typeof testClient>[1] = {}) =>
      client(port, {
        idleHeartbeatInterval: IDLE_INTERVAL,
        timeout: 5000,
        connectAttemptTimeout: 300,
        backoff: { ...FAST_LIVENESS.backoff, maxAttempts: 0 },
        ...extra,
      });

    it('an idle connection stays up while quiet, and a provider SIGSTOPped while idle is found within idleHeartbeatInterval + heartbeatTimeout', async () => {
      const child: ChildProvider = later(await startChildProvider());
      const { client: c, states } = idleClient(child.port);
      await c.connect();
      await expect(firstValueFrom(c.send('echo', 'warm'))).resolves.toBe('warm');
      // Quiet for three idle intervals and a half: nothing read for far longer than heartbeatTimeout,
      // and the pause lands between two idle pings.
      await sleep(3.5 * IDLE_INTERVAL);
      expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
      child.pause();
      const pausedAt = performance.now();
      const lost = await waitUntil(() => states.find((s) => s.to === 'transient-failure')!, IDLE_INTERVAL + heartbeatTimeout + 3000, 'the idle loss');
      const detection = lost.at - pausedAt;
      expect(lost.reason?.message).toContain('heartbeat timeout');
      // The next idle ping goes out within IDLE_INTERVAL of the pause; it is dead heartbeatTimeout later.
      expect(detection).toBeGreaterThanOrEqual(heartbeatTimeout - 50);
      expect(detection).toBeLessThan(IDLE_INTERVAL + heartbeatTimeout + 700);
      child.resume();
      console.info(`[liveness] idle connection, provider SIGSTOPped: lost ${Math.round(detection)} ms after the pause (idle ${IDLE_INTERVAL} + timeout ${heartbeatTimeout} ms)`);
    });

    it('a call on a quiet healthy connection pings first and succeeds on it (no false verdict)', async () => {
      const child: ChildProvider = later(await startChildProvider());
      const { client: c, states } = idleClient(child.port);
      await c.connect();
      await expect(firstValueFrom(c.send('echo', 'warm'))).resolves.toBe('warm');
      for (let i = 0; i < 3; i++) {
        // Quiet for longer than heartbeatTimeout, then a call whose answer takes most of it.
        await sleep(heartbeatTimeout + 150);
        await expect(firstValueFrom(c.send('delay', { ms: heartbeatTimeout - 100, value: i }))).resolves.toBe(i);
      }
      expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
    });

    it('a call on an idle connection to a provider SIGSTOPped since fails typed within about heartbeatTimeout of its start', async () => {
      const child: ChildProvider = later(await startChildProvider());
      // Idle pings far apart: only the ping at the call's start can find the loss this fast.
      const { client: c } = idleClient(child.port, { idleHeartbeatInterval: 30_000 });
      await c.connect();
      await expect(firstValueFrom(c.send('echo', 'warm'))).resolves.toBe('warm');
      await sleep(heartbeatTimeout + 150);
      child.pause();
      await sleep(100);
      const result = await timed(firstValueFrom(c.send('echo', 'into the void')));
      expect(result.error).toBeInstanceOf(ConnectionClosedError);
      expect((result.error as Error).message).toContain('heartbeat timeout');
      expect(result.ms).toBeGreaterThanOrEqual(heartbeatTimeout - 50);
      expect(result.ms).toBeLessThan(heartbeatTimeout + 700);
      child.resume();
      console.info(`[liveness] call on an idle connection to a SIGSTOPped provider: failed after ${Math.round(result.ms)} ms (heartbeatTimeout ${heartbeatTimeout}, idle pings every 30 s)`);
    });
  });

  it('the server closes a client that connects and never sends anything after idleTimeout', async () => {
    const provider: TestProvider = later(await startTestProvider({ idleTimeout: 400, clientHeartbeatInterval: 100 }));
    const socket = netConnect({ host: '127.0.0.1', port: provider.port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const connectedAt = performance.now();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const closedAfter = performance.now() - connectedAt;
    expect(closedAfter).toBeGreaterThanOrEqual(380);
    expect(closedAfter).toBeLessThan(1500);
    // The Hello announced that idle timeout, so a well-behaved client could have kept the line alive.
    const bytes = Buffer.concat(chunks);
    expect(bytes[9]).toBe(MessageType.Hello);
    expect(JSON.parse(bytes.subarray(16, bytes.readUInt32BE(5)).toString('utf8'))).toMatchObject({ idleTimeoutMs: 400 });
  });

  it("a client whose heartbeatInterval is too long for the server adapts to the Hello and does not flap", async () => {
    const provider: TestProvider = later(await startTestProvider({ idleTimeout: 450, clientHeartbeatInterval: 100 }));
    const { client: c, states, logger } = client(provider.port, { heartbeatInterval: 5000, heartbeatTimeout: 20_000 });
    await c.connect();
    await sleep(4 * 450); // four idle windows with no call at all
    expect(states.filter((s) => s.to === 'transient-failure')).toEqual([]);
    expect(provider.accepted()).toBe(1);
    expect(provider.sockets.size).toBe(1);
    await expect(firstValueFrom(c.send('echo', 'still here'))).resolves.toBe('still here');
    expect(logger.lines.some((l) => l.level === 'warn' && l.message.includes('adapted to 150 ms'))).toBe(true);
  });

  it('a peer that accepts but never says Hello is never ready: each attempt is bounded by connectAttemptTimeout', async () => {
    const hole: BlackHole = later(await startBlackHole({ sendHello: false }));
    const { client: c, states } = client(hole.port, { connectAttemptTimeout: 250, connectTimeout: 700 });
    // connect() fails with the first attempt, saying why.
    const result = await timed(c.connect());
    expect(result.error).toBeInstanceOf(NoProviderError);
    expect((result.error as Error).cause).toBeInstanceOf(ConnectTimeoutError);
    expect(result.ms).toBeGreaterThanOrEqual(240);
    expect(result.ms).toBeLessThan(1000);
    // With waitForReady it waits through the attempts, up to connectTimeout.
    const { client: patient } = client(hole.port, { connectAttemptTimeout: 250, connectTimeout: 700, waitForReady: true });
    const waited = await timed(patient.connect());
    expect(waited.error).toBeInstanceOf(NoProviderError);
    expect(waited.ms).toBeGreaterThanOrEqual(690);
    expect(waited.ms).toBeLessThan(2000);
    expect(states.filter((s) => s.to === 'ready')).toEqual([]);
    const failures = states.filter((s) => s.to === 'transient-failure');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0].reason).toBeInstanceOf(ConnectTimeoutError);
    const attempt = failures[0].at - states.find((s) => s.to === 'connecting')!.at;
    expect(attempt).toBeGreaterThanOrEqual(240);
    expect(attempt).toBeLessThan(1000);
    expect(hole.accepted()).toBeGreaterThanOrEqual(1);
  });
});
