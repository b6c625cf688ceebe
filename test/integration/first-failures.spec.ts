import { afterEach, describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientsModule, type ClientProxy } from '@nestjs/microservices';
import { NO_MESSAGE_HANDLER } from '@nestjs/microservices/constants.js';
import { createServer as createHttpServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import {
  ClientClosedError,
  FrameDecodeError,
  MsRpcClient,
  MsRpcModule,
  MsRpcRecordBuilder,
  NoHandlerError,
  NoProviderError,
  RpcTimeoutError,
} from '../../lib/index.js';
import { ChannelCache } from '../../lib/channel/channel-cache.js';
import { NO_MESSAGE_HANDLER_TEXT } from '../../lib/errors/no-handler-error.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { startHandWrittenServer } from '../support/hand-written-server.js';
import { recordingLogger, reservePort, sleep, timed, TrackingClock, waitUntil } from '../support/loopback-utils.js';
import { DiscoveryFixture } from '../support/nacos-discovery-fixture.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/** The backoff a user gets by default: waiting calls must not be paced by it. */
const DEFAULT_BACKOFF = { initialDelay: 100, factor: 2, maxDelay: 30_000, jitter: 0.2, maxAttempts: 12 };

/**
 * Issue 14: the first failures a Nest user meets — closing and reconnecting, failing fast with the
 * real cause (or waiting for ready), unknown patterns, shutdown with strangers connected, typed
 * errors that say where their settings came from.
 */
describe('the failures a Nest user meets first', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const provider = async (...args: Parameters<typeof startTestProvider>): Promise<TestProvider> => {
    const p = await startTestProvider(...args);
    cleanups.push(() => p.close());
    return p;
  };
  const client = (...args: Parameters<typeof testClient>) => {
    const c = testClient(...args);
    cleanups.push(() => c.client.close());
    return c;
  };

  describe('close() and reconnect, as Nest clients do', () => {
    it('20 close()/connect() cycles each open a fresh connection and leave one live connection, with no growth in timers, listeners or memory', async () => {
      const p = await provider();
      const clock = new TrackingClock();
      // No state recorder here: it would keep every state event (and its error) for the memory check.
      const c = new MsRpcClient({ providers: [p.address], logger: recordingLogger() }, { clock });
      cleanups.push(() => c.close());
      const channels = c.unwrap<ChannelCache>();
      await c.connect();
      await expect(firstValueFrom(c.send('echo', 0))).resolves.toBe(0);
      const listeners = channels.listenerCount;
      const timers = clock.pendingTimers;
      const cycle = async (i: number) => {
        await c.close();
        expect(channels.get(p.address)).toBeUndefined();
        expect(channels.listenerCount).toBe(listeners - 1);
        await c.connect();
        await expect(firstValueFrom(c.send('echo', i))).resolves.toBe(i);
      };
      for (let i = 1; i <= 20; i++) await cycle(i);
      await waitUntil(() => p.sockets.size === 1, 3000, 'the closed connections gone on the server');
      expect(p.accepted()).toBe(21);
      expect(channels.get(p.address)?.map((conn) => conn.state)).toEqual(['ready']);
      expect(channels.listenerCount).toBe(listeners);
      expect(clock.pendingTimers).toBeLessThanOrEqual(timers);
      // Memory: 200 more cycles, each of which would leave a whole connection behind if anything
      // kept one (about 5 KiB of heap each); what remains is the JIT's code (under 1 KiB a cycle).
      const gc = exposeGc();
      for (let i = 21; i <= 100; i++) await cycle(i); // the JIT settles
      const before = heapUsed(gc);
      for (let i = 101; i <= 300; i++) await cycle(i);
      await waitUntil(() => p.sockets.size === 1, 3000, 'the closed connections gone on the server');
      const growth = heapUsed(gc) - before;
      console.info(
        `[first-failures] close/connect cycles: 1 live connection after 20, ${p.sockets.size} after 300, ` +
          `timers ${clock.pendingTimers} (before: ${timers}), heap +${(growth / 1024).toFixed(0)} KiB over cycles 101-300`,
      );
      expect(growth).toBeLessThan(640 * 1024);
    });

    it('close() during a pending connect() rejects it with ClientClosedError; a later connect() works', async () => {
      const port = await reservePort();
      const { client: c } = client(port, { waitForReady: true, connectTimeout: 5000 });
      const pending = timed(c.connect());
      await sleep(100);
      await c.close();
      const result = await pending;
      expect(result.error).toBeInstanceOf(ClientClosedError);
      expect(result.ms).toBeLessThan(500);
      await provider({ port });
      await expect(c.connect()).resolves.toBeUndefined();
      await expect(firstValueFrom(c.send('echo', 'again'))).resolves.toBe('again');
    });

    it('closing one client of a shared channel cache leaves the connection the other one uses', async () => {
      const p = await provider();
      @Module({
        imports: [
          MsRpcModule.forRoot({ clientDefaults: { logger: recordingLogger() } }),
          MsRpcModule.registerClients([
            { name: 'A', service: 'echo', providers: [p.address] },
            { name: 'B', service: 'echo', providers: [p.address] },
          ]),
        ],
      })
      class AppModule {}
      const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
      cleanups.push(() => app.close());
      const a = app.get<MsRpcClient>('A');
      const b = app.get<MsRpcClient>('B');
      await Promise.all([firstValueFrom(a.send('echo', 1)), firstValueFrom(b.send('echo', 2))]);
      expect(p.accepted()).toBe(1);
      await a.close();
      await expect(firstValueFrom(b.send('echo', 3))).resolves.toBe(3);
      expect(p.sockets.size).toBe(1);
      await expect(firstValueFrom(a.send('echo', 4))).resolves.toBe(4);
      expect(p.accepted()).toBe(1);
    });

    it('ClientsModule.register({ customClass: MsRpcClient }): close/connect on the injected client, and modules created again', async () => {
      const p = await provider();
      for (let round = 0; round < 3; round++) {
        @Module({
          imports: [
            ClientsModule.register([
              { name: 'MATH', customClass: MsRpcClient, options: { providers: [p.address], logger: recordingLogger() } },
            ]),
          ],
        })
        class AppModule {}
        const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
        const math = app.get<ClientProxy>('MATH');
        await expect(firstValueFrom(math.send('echo', round))).resolves.toBe(round);
        await math.close();
        await math.connect();
        await expect(lastValueFrom(math.send('echo', `again ${round}`))).resolves.toBe(`again ${round}`);
        await app.close();
      }
      await waitUntil(() => p.sockets.size === 0, 3000, 'every connection closed with its app');
      expect(p.accepted()).toBe(6);
    });
  });

  describe('fail fast with the real cause, or wait for ready', () => {
    it('a refused port: send(), emit() and connect() fail within milliseconds, naming the provider; the cause chain reaches ECONNREFUSED', async () => {
      const port = await reservePort();
      const { client: c } = client(port, { timeout: 3000, connectTimeout: 10_000 });
      const sent = await timed(firstValueFrom(c.send('echo', 1)));
      expect(sent.error).toBeInstanceOf(NoProviderError);
      const error = sent.error as NoProviderError;
      expect(error.message).toContain(`127.0.0.1:${port}: connect ECONNREFUSED`);
      expect(error.failures).toEqual([{ address: `127.0.0.1:${port}`, error: expect.objectContaining({ code: 'ECONNREFUSED' }) }]);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      const emitted = await timed(lastValueFrom(c.emit('audit', {}), { defaultValue: undefined }));
      expect(emitted.error).toBeInstanceOf(NoProviderError);
      const connected = await timed(c.connect());
      expect(connected.error).toBeInstanceOf(NoProviderError);
      console.info(
        `[first-failures] refused port: send() failed in ${sent.ms.toFixed(1)} ms, emit() in ${emitted.ms.toFixed(1)} ms, ` +
          `connect() in ${connected.ms.toFixed(1)} ms (timeout 3000, connectTimeout 10000)`,
      );
      expect(sent.ms).toBeLessThan(100);
      expect(emitted.ms).toBeLessThan(100);
      expect(connected.ms).toBeLessThan(100);
    });

    it('an HTTP port: the cause says the peer does not speak the protocol', async () => {
      const http = createHttpServer((_req, res) => res.end('hello'));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
      const port = (http.address() as AddressInfo).port;
      const { client: c } = client(port, { timeout: 3000 });
      const result = await timed(firstValueFrom(c.send('echo', 1)));
      expect(result.error).toBeInstanceOf(NoProviderError);
      expect((result.error as Error).message).toMatch(/Bad magic 0x48545450 \("HTTP"\).*does not speak this protocol/);
      expect((result.error as Error).cause).toBeInstanceOf(FrameDecodeError);
      expect(result.ms).toBeLessThan(500);
      cleanups.push(() => http.closeAllConnections());
    });

    it('with waitForReady a call waits; when its time runs out, the RpcTimeoutError says why no provider was ready', async () => {
      const port = await reservePort();
      const { client: c } = client(port, { timeout: 400, waitForReady: true });
      const result = await timed(firstValueFrom(c.send('echo', 1)));
      expect(result.error).toBeInstanceOf(RpcTimeoutError);
      const error = result.error as RpcTimeoutError;
      expect(error.message).toContain(`none of 1 known provider(s) became ready within 400 ms (127.0.0.1:${port}: connect ECONNREFUSED`);
      expect(error.cause).toBeInstanceOf(NoProviderError);
      expect(((error.cause as NoProviderError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(result.ms).toBeGreaterThanOrEqual(390);
    });

    it('a provider restarted while a call waits for it answers the call within 100 ms of listening', async () => {
      const port = await reservePort();
      const { client: c } = client(port, { timeout: 5000, waitForReady: true, backoff: DEFAULT_BACKOFF });
      const call = timed(firstValueFrom(c.send('echo', 'patient')));
      await sleep(1700);
      let listenedAt = 0;
      const p = await provider({ port });
      // startTestProvider resolves once listen() called back: the earliest a client could be served.
      listenedAt = performance.now();
      const result = await call;
      const wakeUp = performance.now() - listenedAt;
      expect(result.value).toBe('patient');
      console.info(`[first-failures] a call waiting 1.7 s was answered ${wakeUp.toFixed(1)} ms after the provider listened (default backoff)`);
      expect(wakeUp).toBeLessThanOrEqual(100);
      expect(p.accepted()).toBe(1);
    });
  });

  describe('unknown patterns: one typed error in direct and Nacos mode', () => {
    it("holds Nest's own text", () => {
      expect(NO_MESSAGE_HANDLER_TEXT).toBe(NO_MESSAGE_HANDLER);
    });

    it('direct mode: from the provider Hello, without sending the call and without a timeout', async () => {
      const p = await provider();
      const { client: c } = client(p.port, { timeout: 3000 });
      // Not connected yet: the call waits for the connection, whose Hello says nobody serves it.
      const first = await timed(firstValueFrom(c.send('nope', {})));
      expect(first.error).toBeInstanceOf(NoHandlerError);
      expect(first.error).toMatchObject({ code: 'ERR_NO_HANDLER', pattern: 'nope' });
      expect((first.error as Error).message).toContain(`${NO_MESSAGE_HANDLER} Pattern: "nope"`);
      expect(first.ms).toBeLessThan(500);
      const again = await timed(firstValueFrom(c.send('nope', {})));
      expect(again.error).toBeInstanceOf(NoHandlerError);
      expect(again.ms).toBeLessThan(20);
      expect(p.server.metrics!.snapshot().patterns.find((s) => s.pattern === 'nope')).toBeUndefined();
    });

    it('Nacos mode: the same error, from the registration metadata', async () => {
      const fx = await DiscoveryFixture.create();
      cleanups.push(() => fx.dispose());
      await fx.startProvider('p1');
      const { client: c } = fx.consumer({ timeout: 3000 });
      await expect(firstValueFrom(c.send('whoami', {}))).resolves.toBe('p1');
      const result = await timed(firstValueFrom(c.send('nope', {})));
      expect(result.error).toBeInstanceOf(NoHandlerError);
      expect(result.error).toMatchObject({ code: 'ERR_NO_HANDLER', pattern: 'nope' });
      expect((result.error as Error).message).toContain(`${NO_MESSAGE_HANDLER} Pattern: "nope"`);
      expect(result.ms).toBeLessThan(20);
    });

    it("a provider of an older version (no patterns in its Hello, Nest's text in its reply): the same error, in one round trip", async () => {
      const old = await startOldProvider();
      cleanups.push(() => old.close());
      const { client: c } = client(old.port, { timeout: 3000 });
      const result = await timed(firstValueFrom(c.send('nope', {})));
      expect(result.error).toBeInstanceOf(NoHandlerError);
      expect(result.error).toMatchObject({ code: 'ERR_NO_HANDLER', pattern: 'nope' });
      expect(old.requests).toEqual(['nope']);
      expect(result.ms).toBeLessThan(500);
    });
  });

  describe('shutdown ignores strangers', () => {
    it('app.close() with only a TCP probe connected resolves in under 100 ms', async () => {
      const p = await startTestProvider({ shutdownTimeout: 10_000 });
      const probe = await rawConnect(p.port);
      await waitUntil(() => p.sockets.size === 1, 2000, 'probe accepted');
      const closed = await timed(p.app.close());
      console.info(`[first-failures] app.close() with a TCP probe connected: ${closed.ms.toFixed(1)} ms (shutdownTimeout 10000)`);
      expect(closed.ms).toBeLessThan(100);
      await waitUntil(() => probe.closed, 2000, 'probe closed by the server');
      probe.destroy();
    });

    it('a real client is still drained (its call answered) while the probe beside it is closed at once', async () => {
      const p = await startTestProvider({ shutdownTimeout: 10_000 });
      const probe = await rawConnect(p.port);
      const { client: c } = client(p.port, { timeout: 5000 });
      await c.connect();
      const answer = firstValueFrom(c.send('delay', { ms: 300, value: 'drained', id: 'd1' }));
      await waitUntil(() => p.probe.started.has('d1'), 2000, 'call running');
      const closing = timed(p.app.close());
      await waitUntil(() => probe.closed, 1000, 'probe closed at once');
      await expect(answer).resolves.toBe('drained');
      const closed = await closing;
      expect(closed.ms).toBeLessThan(2000);
      probe.destroy();
    });
  });

  describe('errors that say where their settings came from', () => {
    it('a timeout names the option that set it', async () => {
      const p = await provider();
      const { client: c } = client(p.port, { timeout: 200 });
      const fromClient = await timed(firstValueFrom(c.send('hang', { id: 't1' })));
      expect((fromClient.error as Error).message).toContain('MsRpcClient timeout 200 ms; set timeout or per call with MsRpcRecordBuilder');
      expect((fromClient.error as Error).message).toContain(`(provider ${p.address})`);
      const fromRecord = await timed(firstValueFrom(c.send('hang', new MsRpcRecordBuilder({ id: 't2' }).setTimeout(150).build())));
      expect(fromRecord.error).toBeInstanceOf(RpcTimeoutError);
      expect((fromRecord.error as Error).message).toContain('per-call timeout 150 ms set per call with MsRpcRecordBuilder.setTimeout()');
      const fromCall = await c.call('hang', { id: 't3' }, { timeout: 120 }).catch((e: unknown) => e);
      expect((fromCall as Error).message).toContain('per-call timeout 120 ms set in the options of client.call()');
    });
  });
});

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapUsed(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A TCP probe: connects, sends nothing, reads (and drops) whatever comes; `closed` once the server closed it. */
function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.resume();
  });
}

/**
 * A provider of an older version, by hand: its Hello lists no patterns and it answers every request
 * with Nest's "no handler" text, without a code.
 */
async function startOldProvider(): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = await startHandWrittenServer({ idleTimeoutMs: 0, maxFrameSize: 8 * 1024 * 1024 }, (message, _type, reply) => {
    if (message.type !== MessageType.Request) return;
    requests.push(message.pattern);
    reply({
      type: MessageType.Error,
      requestId: message.requestId,
      error: { status: 'error', message: `${NO_MESSAGE_HANDLER} Pattern: ${message.pattern}` },
    });
  });
  return { port: server.port, requests, close: () => server.close() };
}
