import { afterEach, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { ConsoleLogger, Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { MAX_LOG_MESSAGE } from '../../lib/common/logger.js';
import { AuthError, MsRpcClient, MsRpcServer, NacosRegistry } from '../../lib/index.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import type { Message } from '../../lib/protocol/message.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';
import { DiscoveryFixture, SERVICE, type FixtureNacos } from '../support/nacos-discovery-fixture.js';
import { NacosGrpcTestServer } from '../../lib/testing/index.js';
import { sleep, waitFor } from '../support/nacos-test-helpers.js';
import { makeTestPki } from '../support/test-certs.js';
import { startHandWrittenServer } from '../support/hand-written-server.js';
import { wirePeer } from '../support/wire-peer.js';

/**
 * Issue 17 item 6, through the real components: what an operator reads during a registry outage,
 * refused connections and hostile peers. A Nacos outage is one warning when it starts and one line
 * with its duration when it ends, per registry, for both Nacos protocols; every line is one line of
 * at most MAX_LOG_MESSAGE characters (300 once Nest's console logger prefixed it); connection state
 * changes are verbose; what a peer wrote is quoted and cut.
 */

type Line = { level: string; message: string };

const STATE_CHANGE = /: (idle|connecting|ready|transient-failure) -> (connecting|ready|transient-failure|closed)\b/;

function expectOperatorFriendly(lines: Line[]): void {
  const tooLong = lines.filter((l) => l.message.length > MAX_LOG_MESSAGE || /[\r\n]/.test(l.message));
  expect(tooLong).toEqual([]);
  // State changes exist only at verbose level.
  expect(lines.filter((l) => l.level !== 'verbose' && STATE_CHANGE.test(l.message))).toEqual([]);
}

describe('a registry outage, as an operator reads it (both Nacos protocols)', () => {
  let fx: DiscoveryFixture<FixtureNacos> | undefined;

  afterEach(async () => {
    await fx?.dispose();
    fx = undefined;
  });

  // 2.5 s with the fixture's scaled timings is dozens of failed beats, polls and reconnects.
  const OUTAGE_MS = 2500;

  for (const protocol of ['http', 'grpc'] as const) {
    it(`${protocol}: one warning when it starts, one line with its duration when it ends, per registry; nothing in between above debug`, async () => {
      fx = (protocol === 'http' ? await DiscoveryFixture.create() : await DiscoveryFixture.createGrpc()) as DiscoveryFixture<FixtureNacos>;
      const p1 = await fx.startProvider('p1');
      const consumer = fx.consumer();
      await waitFor(() => (void consumer.client.connect().catch(() => undefined), consumer.client.providers.length === 1), 3000, 'connected');
      await waitFor(() => p1.server.registered, 3000, 'p1 registered');
      await sleep(300);
      const from = {
        provider: p1.registryLogger.lines.length,
        consumer: consumer.logger.lines.length,
        client: consumer.clientLogger.lines.length,
        nest: fx.nestLogs.lines.length,
      };

      await fx.nacos.stop();
      await sleep(500);
      // A provider started during the outage: its registration fails and is retried in the background.
      const p2 = await fx.startProvider('p2');
      await sleep(OUTAGE_MS - 500);
      await fx.nacos.start();
      await waitFor(() => p2.server.registered && fx!.registeredPorts().length === 2, 6000, 'both registered again');
      await waitFor(() => consumer.client.providers.length === 2, 6000, 'p2 discovered');

      const since = {
        provider: p1.registryLogger.lines.slice(from.provider),
        consumer: consumer.logger.lines.slice(from.consumer),
        client: consumer.clientLogger.lines.slice(from.client),
        nest: fx.nestLogs.lines.slice(from.nest),
        p2registry: p2.registryLogger.lines,
      };
      const at = (lines: Line[], level: string) => lines.filter((l) => l.level === level).map((l) => l.message);
      const ended = /^nacos: .* after an outage of [\d.]+ (ms|s) \(\d+ failed attempts?\)$/;
      for (const [who, lines] of [['provider', since.provider], ['consumer', since.consumer]] as const) {
        // Exactly one warning and one recovery line for the whole outage...
        expect({ who, warn: at(lines, 'warn') }).toEqual({ who, warn: [expect.stringMatching(/^nacos: .*; retrying \(repeats at debug level until it recovers\)$/)] });
        expect({ who, ended: at(lines, 'log').filter((m) => ended.test(m)) }).toEqual({ who, ended: [expect.any(String)] });
        expect({ who, error: at(lines, 'error') }).toEqual({ who, error: [] });
        // ...while the failures went on all along (recorded at debug, not lost).
        expect(at(lines, 'debug').filter((m) => /failure \d+ of this outage/.test(m)).length).toBeGreaterThanOrEqual(5);
      }
      // The late provider: one warning for its registration, one line once registered, with the duration.
      const registration = new RegExp(`registering ${SERVICE}@${p2.address} in nacos failed`);
      expect(at(since.nest, 'warn').filter((m) => registration.test(m))).toHaveLength(1);
      expect(at(since.nest, 'log').filter((m) => new RegExp(`^registered ${SERVICE}@${p2.address} in nacos after an outage of`).test(m))).toHaveLength(1);
      expect(at(since.nest, 'error')).toEqual([]);
      expect(at(since.client, 'error')).toEqual([]);
      // Nacos drops a gRPC client's instances with its connection: a consumer that resubscribes before the
      // providers registered again is answered an empty list, which its directory refuses (empty-push
      // protection), saying so once. Nothing else.
      expect(at(since.client, 'warn').filter((m) => !/keeping them until their connections fail \(empty-push protection\)$/.test(m))).toEqual([]);
      expect(at(since.client, 'warn').length).toBeLessThanOrEqual(1);
      expectOperatorFriendly([...since.provider, ...since.consumer, ...since.client, ...since.nest, ...since.p2registry]);
    }, 30_000);
  }
});

/** Nest's console logger, colors off, keeping what it would print instead of printing it. */
class CapturingConsoleLogger extends ConsoleLogger {
  readonly printed: string[] = [];
  readonly records: Line[] = [];

  constructor() {
    super({ colors: false });
  }

  protected override formatMessage(
    logLevel: Parameters<ConsoleLogger['formatMessage']>[0],
    message: unknown,
    ...rest: unknown[]
  ): string {
    const formatted = (super.formatMessage as (...args: unknown[]) => string).call(this, logLevel, message, ...rest);
    this.records.push({ level: logLevel, message: String(message) });
    this.printed.push(...formatted.split('\n').filter((l) => l !== ''));
    return '';
  }

  protected override printStackTrace(stack: string): void {
    this.printed.push(...stack.split('\n'));
  }
}

@Controller()
class EchoController {
  @MessagePattern('echo')
  echo(data: unknown) {
    return data;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

/**
 * A provider that is not one: it answers the client's Hello with `answer` (through `reply`, or
 * `end`, which closes its side after the frame).
 */
function fakeProvider(
  answer: (reply: (m: Message) => void, end: (last: Message) => void) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  return startHandWrittenServer(undefined, (message, _type, reply, end) => {
    if (message.type === MessageType.Hello) answer(reply, end);
  });
}

describe('refusals and hostile peers, as an operator reads them', () => {
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  it('every line is one line within the limit (300 printed by Nest), state changes are verbose, peer text is quoted and cut', async () => {
    const out = new CapturingConsoleLogger();
    const hostile = `no!\n${'\u001b[31m'}${'x'.repeat(2000)}`;

    // 1. A server that wants a token, and a client with the wrong one: refused at once.
    const secure = new MsRpcServer({ host: '127.0.0.1', port: 0, auth: { tokens: ['right-token'] }, shutdownTimeout: 300 });
    const secureApp = await NestFactory.createMicroservice(EchoModule, { strategy: secure, logger: out });
    await secureApp.listen();
    open.push(secureApp);
    const wrong = new MsRpcClient({ providers: [`127.0.0.1:${secure.port}`], authToken: 'wrong-token', logger: out, timeout: 2000 });
    open.push(wrong);
    await expect(firstValueFrom(wrong.send('echo', 1))).rejects.toBeInstanceOf(Error);

    // 2. A plain server and raw peers sending garbage and an event for a long made-up pattern.
    const plain = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300 });
    const plainApp = await NestFactory.createMicroservice(EchoModule, { strategy: plain, logger: out });
    await plainApp.listen();
    open.push(plainApp);
    const garbage = await wirePeer(plain.port, { hello: false });
    open.push(garbage);
    garbage.socket.write(`GET /${'a'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const events = await wirePeer(plain.port);
    open.push(events);
    events.send({ type: MessageType.Event, pattern: `evil\n${'p'.repeat(900)}`, metadata: {}, data: null } as Message);
    const good = new MsRpcClient({ providers: [`127.0.0.1:${plain.port}`], logger: out, timeout: 2000 });
    open.push(good);
    await expect(firstValueFrom(good.send('echo', 'hi'))).resolves.toBe('hi');

    // 3. "Providers" whose words are hostile: a refusal and a go-away reason.
    const refuser = await fakeProvider((_reply, end) =>
      end({ type: MessageType.Error, requestId: 0, error: { code: 'ERR_AUTH', message: hostile } }),
    );
    open.push(refuser);
    const refused = new MsRpcClient({ providers: [`127.0.0.1:${refuser.port}`], logger: out, timeout: 2000 });
    open.push(refused);
    const refusal = await firstValueFrom(refused.send('echo', 1)).catch((e: unknown) => e);
    const drainer = await fakeProvider((reply) => {
      reply({ type: MessageType.Hello, settings: { idleTimeoutMs: 60_000, maxFrameSize: resolveProtocolOptions().maxFrameSize } });
      reply({ type: MessageType.GoAway, reason: hostile });
    });
    open.push(drainer);
    const drained = new MsRpcClient({ providers: [`127.0.0.1:${drainer.port}`], logger: out, timeout: 2000 });
    open.push(drained);
    await drained.connect().catch(() => undefined);

    // 4. A Nacos that refuses the login with a long body (gRPC protocol, auth on, wrong password).
    const nacos = new NacosGrpcTestServer({ auth: { username: 'nacos', password: 'right' } });
    await nacos.start();
    open.push({ close: () => nacos.stop() });
    const registry = new NacosRegistry({ serverList: [nacos.address], username: 'nacos', password: 'wrong', logger: out, grpc: { requestTimeout: 500 } });
    open.push(registry);
    await expect(registry.getInstances('svc')).rejects.toBeInstanceOf(Error);

    await waitFor(
      () =>
        out.records.some((r) => /server is draining/.test(r.message)) &&
        out.records.some((r) => /event for unknown pattern/.test(r.message)) &&
        out.records.filter((r) => /authentication failed/.test(r.message)).length >= 2 &&
        out.records.some((r) => /login failed/.test(r.message)),
      5000,
      'every path to have logged',
    );

    // One line each, within the limits, whatever the peers sent.
    expectOperatorFriendly(out.records);
    expect(out.printed.filter((l) => l.length > 300)).toEqual([]);
    expect(out.records.length).toBeGreaterThan(10);
    // Connection state changes were logged, at verbose.
    expect(out.records.some((r) => r.level === 'verbose' && /: connecting -> ready/.test(r.message))).toBe(true);

    // What peers wrote is quoted (escaped: no raw newline or escape sequence) and cut.
    const quoted = (pattern: RegExp) => out.records.filter((r) => r.level !== 'verbose' && pattern.test(r.message)).map((r) => r.message);
    expect(quoted(/server is draining/)).toEqual([expect.stringContaining('server is draining ("no!\\n\\u001b[31mxxx')]);
    expect(quoted(/authentication failed: "no!/)).toEqual([expect.stringContaining('authentication failed: "no!\\n\\u001b[31mxxx')]);
    expect(quoted(/event for unknown pattern/)).toEqual([expect.stringContaining('event for unknown pattern "evil\\npppp')]);
    expect(quoted(/login failed/)).toEqual([expect.stringMatching(/HTTP 403 "/)]);
    expect(out.printed.filter((l) => l.includes('\u001b'))).toEqual([]);
    expect(refusal).toBeInstanceOf(AuthError);
    expect((refusal as Error).message.length).toBeLessThan(300);
  }, 30_000);
});

describe('health probes, as an operator reads them', () => {
  const open: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });

  it('TCP probes (connect, then close or reset) against plain and TLS providers log nothing above debug', async () => {
    const out = new CapturingConsoleLogger();
    const pki = await makeTestPki();
    const ports: number[] = [];
    for (const tls of [undefined, { key: pki.server.key, cert: pki.server.cert }]) {
      const server = new MsRpcServer({ host: '127.0.0.1', port: 0, tls, shutdownTimeout: 300 });
      const app = await NestFactory.createMicroservice(EchoModule, { strategy: server, logger: out });
      await app.listen();
      open.push(app);
      ports.push(server.port);
    }
    const from = out.records.length;
    for (const port of ports) {
      for (const reset of [false, true, false]) {
        const probe = connect({ host: '127.0.0.1', port });
        probe.on('error', () => undefined);
        probe.resume();
        await new Promise((resolve) => probe.once('connect', resolve));
        if (reset) probe.resetAndDestroy();
        else probe.end();
        await new Promise((resolve) => probe.once('close', resolve));
      }
    }
    await sleep(200);
    const probes = out.records.slice(from);
    expect(probes.filter((r) => r.level !== 'debug' && r.level !== 'verbose')).toEqual([]);
    expect(probes.filter((r) => /closed before starting a TLS handshake/.test(r.message)).length).toBeGreaterThanOrEqual(2);
  });
});
