import { describe, expect, it } from '@jest/globals';
import type { MessageHandler } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, of, toArray } from 'rxjs';
import { EncodeError, FrameTooLargeError, MsRpcContext } from '../../lib/index.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { serverFixtures, type LoggedProvider } from '../support/server-fixtures.js';
import type { TestProvider } from '../support/test-provider.js';

/**
 * Faults on the server's dispatch path: user hooks that throw, peers that break the protocol, and
 * answers that cannot be sent. Each costs its own call (or, for a protocol violation, its own
 * connection) and nothing more, and is logged once.
 */
describe('server faults stay with the call or the peer that caused them', () => {
  const fixtures = serverFixtures(2000);
  const { provider, peer } = fixtures;
  const client = (p: TestProvider, options: Parameters<typeof fixtures.client>[1] = {}) => fixtures.client(p.port, options);

  const warnings = (p: LoggedProvider, re: RegExp) =>
    p.logs.lines.filter((l) => (l.level === 'warn' || l.level === 'error') && re.test(l.message));

  it('a start hook that throws fails its call only: logged once, the connection and the other calls go on', async () => {
    const p = await provider();
    p.server.setOnProcessingStartHook((_t, ctx, done) => {
      if ((ctx as MsRpcContext).getPattern() === 'length') throw new Error('hook exploded');
      return done();
    });
    const { client: c, states } = client(p);
    await c.connect();
    const slow = Array.from({ length: 5 }, (_, i) => timed(firstValueFrom(c.send('delay', { ms: 100, value: i }))));
    const failing = Array.from({ length: 3 }, () => timed(firstValueFrom(c.send('length', 'abc'))));
    const [ok, bad] = [await Promise.all(slow), await Promise.all(failing)];
    expect(ok.map((r) => r.value)).toEqual([0, 1, 2, 3, 4]);
    for (const r of bad) expect(r.error).toEqual({ status: 'error', message: 'Internal server error' });
    expect(states.map((s) => s.to)).toEqual(['connecting', 'ready']);
    expect(p.accepted()).toBe(1);
    const lines = warnings(p, /hook/);
    expect(lines.map((l) => l.message)).toEqual(['processing start hook failed: hook exploded']);
    expect(p.server.inFlightRequests).toBe(0);
  });

  it('an end hook that throws changes nothing for the caller, and is logged rate-limited', async () => {
    const p = await provider();
    p.server.setOnProcessingEndHook(() => {
      throw new Error('end hook exploded');
    });
    const { client: c } = client(p);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(warnings(p, /end hook/).map((l) => l.message)).toEqual(['processing end hook failed: end hook exploded']);
  });

  it('after a protocol violation, the rest of the chunk is not dispatched', async () => {
    const p = await provider();
    const w = await peer(p.port);
    // One write, one chunk: a frame only servers send, then a request that must never run.
    w.send(
      { type: MessageType.Response, requestId: 1, data: 'not from a client' },
      { type: MessageType.Request, requestId: 2, pattern: 'delay', data: { ms: 1, value: 1, id: 'after-violation' } },
    );
    const closed = await Promise.race([w.closed, sleep(2000).then(() => -1)]);
    expect(closed).toBeGreaterThan(0);
    await sleep(50);
    expect(p.probe.started.has('after-violation')).toBe(false);
    expect(w.answers(2)).toEqual([]);
    expect(warnings(p, /ProtocolError/)).toHaveLength(1);
  });

  it('a request with id 0 (reserved) is a protocol error: the connection is closed, nothing runs', async () => {
    const p = await provider();
    const w = await peer(p.port);
    w.send({ type: MessageType.Request, requestId: 0, pattern: 'delay', data: { ms: 1, value: 1, id: 'zero' } });
    const closed = await Promise.race([w.closed, sleep(2000).then(() => -1)]);
    expect(closed).toBeGreaterThan(0);
    expect(p.probe.started.has('zero')).toBe(false);
    expect(w.received.filter((m) => m.type !== MessageType.Hello)).toEqual([]);
    const lines = warnings(p, /ProtocolError/);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/request with id 0, which is reserved/);
  });

  it('an answer that cannot be encoded gets one typed error reply, counted as an error', async () => {
    const p = await provider();
    p.server.addHandler('bigint', (() => ({ n: 10n })) as unknown as MessageHandler);
    p.server.addHandler('bigint-stream', (() => of(1, 2n, 3)) as unknown as MessageHandler);
    const { client: c } = client(p);
    const unary = await timed(firstValueFrom(c.send('bigint', {})));
    expect(unary.error).toBeInstanceOf(EncodeError);
    expect((unary.error as EncodeError).code).toBe('ERR_ENCODE');
    expect((unary.error as Error).message).toMatch(/BigInt/);
    const stream = await timed(lastValueFrom(c.send('bigint-stream', {}).pipe(toArray())));
    expect(stream.error).toBeInstanceOf(EncodeError);
    // On the wire: exactly one frame answers the call, an Error.
    const w = await peer(p.port);
    w.send({ type: MessageType.Request, requestId: 7, pattern: 'bigint', data: {} });
    await waitUntil(() => w.answers(7).length > 0, 2000, 'the answer');
    await sleep(50);
    expect(w.answers(7).map((m) => m.type)).toEqual([MessageType.Error]);
    expect(w.answers(7)[0]).toMatchObject({ error: { name: 'EncodeError', code: 'ERR_ENCODE' } });

    const byPattern = Object.fromEntries(p.server.metrics!.snapshot().patterns.map((s) => [s.pattern, s]));
    expect(byPattern.bigint).toMatchObject({ started: 2, succeeded: 0, failed: 2, errors: { ERR_ENCODE: 2 } });
    expect(byPattern['bigint-stream']).toMatchObject({ started: 1, succeeded: 0, failed: 1, errors: { ERR_ENCODE: 1 } });
    // One warning per connection (the client's and the raw peer's), later ones at debug level.
    expect(warnings(p, /answer to "bigint" not sent: EncodeError: End cannot be encoded with json: Do not know how to serialize a BigInt/)).toHaveLength(2);
    expect(p.server.inFlightRequests).toBe(0);
  });

  it("an answer over the caller's frame limit reaches it as a FrameTooLargeError; the provider warns naming pattern and size", async () => {
    const p = await provider();
    const { client: c } = client(p, { maxFrameSize: 64 * 1024, maxBodySize: 64 * 1024 });
    const result = await timed(firstValueFrom(c.send('big', { size: 100_000 })));
    expect(result.error).toBeInstanceOf(FrameTooLargeError);
    expect(result.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', limit: 64 * 1024 });
    expect((result.error as FrameTooLargeError).size).toBeGreaterThan(100_000);
    expect((result.error as Error).message).toMatch(new RegExp(`Answer from ${p.address.replace(/\./g, '\\.')}`));
    expect(result.ms).toBeLessThan(1000);
    const lines = warnings(p, /answer to "big"/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn' });
    expect(lines[0]!.message).toMatch(/answer to "big" not sent: FrameTooLargeError: Response frame \(client limit\) of 1000\d\d bytes exceeds the limit of 65536 bytes/);
    // Only that call failed.
    await expect(firstValueFrom(c.send('echo', 'still here'))).resolves.toBe('still here');
  });
});


