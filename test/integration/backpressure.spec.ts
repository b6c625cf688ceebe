import { afterAll, describe, expect, it } from '@jest/globals';
import type { MessageHandler } from '@nestjs/microservices';
import { firstValueFrom, Observable } from 'rxjs';
import { BackpressureError, MsRpcContext, MsRpcRecordBuilder, RpcTimeoutError } from '../../lib/index.js';
import { isRetryable } from '../../lib/routing/retry-policy.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { startBlackHole } from '../support/black-hole-server.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { serverFixtures } from '../support/server-fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 'x'.repeat(64 * KiB);

/** What the flood handlers saw: values produced, teardown, and their signal's reason. */
interface FloodProbe {
  produced: number;
  tornDown: boolean;
  reason?: unknown;
}

/**
 * An endless stream of 64 KiB values, 64 per millisecond (4 GiB/s): faster than any reader, even
 * one in this process that reads 2 MiB per event-loop turn. Records its teardown and its signal's
 * reason.
 */
function flood(probe: FloodProbe): MessageHandler {
  return ((_data: unknown, ctx: MsRpcContext) => {
    // Optional chaining: the same handler measures a server without ctx.signal (the old code).
    ctx.signal?.addEventListener('abort', () => (probe.reason = ctx.signal.reason), { once: true });
    return new Observable<string>((subscriber) => {
      const timer = setInterval(() => {
        for (let i = 0; i < 64; i++) {
          probe.produced++;
          subscriber.next(CHUNK);
        }
      }, 1);
      return () => {
        clearInterval(timer);
        probe.tornDown = true;
      };
    });
  }) as unknown as MessageHandler;
}

describe('backpressure: one overrunning stream or a full socket fails alone, the connection goes on', () => {
  const { provider, client, peer, track } = serverFixtures(5000);
  const report: string[] = [];
  afterAll(() => {
    process.stdout.write(`\nbackpressure report\n${report.map((l) => `  ${l}`).join('\n')}\n`);
  });

  it('a stream that outruns its reader fails alone with a BackpressureError; 200 small calls beside it all succeed', async () => {
    // maxStreamBuffer defaults to a quarter of maxWriteBuffer: 1 MiB here.
    const p = await provider({ maxWriteBuffer: 4 * MiB });
    const probe: FloodProbe = { produced: 0, tornDown: false };
    p.server.addHandler('flood', flood(probe));
    const { client: c, states } = client(p.port);
    await c.connect();
    // 200 small calls in flight on the connection (their handlers take 150 ms) when the stream
    // starts to overrun.
    const small = Array.from({ length: 200 }, (_, i) => timed(firstValueFrom(c.send('delay', { ms: 150, value: { i } }))));
    await sleep(20);
    let values = 0;
    const stream = new Promise<unknown>((resolve) =>
      c.send('flood', {}).subscribe({ next: () => values++, error: resolve, complete: () => resolve('completed') }),
    );
    const [streamError, smallResults] = await Promise.all([stream, Promise.all(small)]);
    const survived = smallResults.filter((r, i) => r.ok && (r.value as { i: number }).i === i).length;
    report.push(
      `overrunning stream (64 KiB x 64/ms, maxStreamBuffer 1 MiB) beside 200 small calls on the same connection: ` +
        `${survived}/200 small calls answered; the stream delivered ${values} values, then ${(streamError as Error).name}`,
    );
    expect(streamError).toBeInstanceOf(BackpressureError);
    expect(survived).toBe(200);
    expect(streamError).toMatchObject({ code: 'ERR_BACKPRESSURE', limitName: 'maxStreamBuffer', limit: MiB, address: p.address });
    // The handler's Observable was torn down and its signal aborted with the same typed error.
    await waitUntil(() => probe.tornDown, 2000, 'the stream torn down');
    expect(probe.reason).toBeInstanceOf(BackpressureError);
    const produced = probe.produced;
    await sleep(30);
    expect(probe.produced).toBe(produced);
    // The connection was never cut, and serves on.
    expect(states.map((s) => s.to)).toEqual(['connecting', 'ready']);
    await expect(firstValueFrom(c.send('echo', 'after'))).resolves.toBe('after');
    const flooded = p.server.metrics!.snapshot().patterns.find((s) => s.pattern === 'flood');
    expect(flooded).toMatchObject({ failed: 1, errors: { ERR_BACKPRESSURE: 1 } });
    await waitUntil(() => p.server.inFlightRequests === 0, 2000, 'slots released');
  });

  it('a slow reader: the overrunning stream fails, the answers to its other calls wait for it and arrive', async () => {
    const p = await provider({ maxWriteBuffer: 4 * MiB });
    const probe: FloodProbe = { produced: 0, tornDown: false };
    p.server.addHandler('flood', flood(probe));
    const w = await peer(p.port);
    w.socket.pause();
    w.send({ type: MessageType.Request, requestId: 1, pattern: 'flood', data: {} });
    await waitUntil(() => probe.tornDown, 5000, 'the stream to overrun');
    // Not reading yet: small calls still queue behind the stream's frames.
    w.send(...Array.from({ length: 10 }, (_, i) => ({ type: MessageType.Request as const, requestId: 2 + i, pattern: 'echo', data: i })));
    await sleep(100);
    w.socket.resume();
    await waitUntil(() => w.answers(11).length > 0, 5000, 'the small answers');
    const streamFrames = w.answers(1);
    const last = streamFrames.at(-1)!;
    expect(last.type).toBe(MessageType.Error);
    expect(last).toMatchObject({ error: { name: 'BackpressureError', code: 'ERR_BACKPRESSURE', limitName: 'maxStreamBuffer' } });
    expect(streamFrames.slice(0, -1).every((m) => m.type === MessageType.Response)).toBe(true);
    for (let i = 0; i < 10; i++) expect(w.answers(2 + i)).toEqual([{ type: MessageType.End, requestId: 2 + i, hasData: true, data: i }]);
    expect(w.socket.destroyed).toBe(false);
  });

  it('a client that stopped reading altogether is cut after writeStallTimeout without progress; answers past maxWriteBuffer fail typed meanwhile', async () => {
    const p = await provider({ maxWriteBuffer: MiB, writeStallTimeout: 300 });
    const w = await peer(p.port);
    w.socket.pause();
    const started = performance.now();
    // Asks for 2.5 MiB every 20 ms and never reads: once the kernel's socket buffers are full,
    // bytes stay queued here and none leave.
    let closedAt = -1;
    void w.closed.then((at) => (closedAt = at));
    let requestId = 0;
    while (closedAt < 0 && performance.now() - started < 5000) {
      w.send(...Array.from({ length: 10 }, () => ({ type: MessageType.Request as const, requestId: ++requestId, pattern: 'big', data: { size: 256 * KiB } })));
      await sleep(20);
    }
    const cutMs = closedAt - started;
    const failed = p.server.metrics!.snapshot().patterns.find((s) => s.pattern === 'big');
    report.push(
      `never-reading client asking 2.5 MiB every 20 ms, maxWriteBuffer 1 MiB, writeStallTimeout 300 ms: cut after ${cutMs.toFixed(0)} ms (${requestId} requests); ` +
        `${failed?.errors.ERR_BACKPRESSURE ?? 0} answers failed with BackpressureError before the cut`,
    );
    expect(closedAt).toBeGreaterThan(0);
    expect(cutMs).toBeGreaterThanOrEqual(300);
    expect(cutMs).toBeLessThan(4000);
    expect(failed?.errors.ERR_BACKPRESSURE).toBeGreaterThan(0);
    const cut = p.logs.lines.filter((l) => l.message.includes(w.address) && /not reading/.test(l.message));
    expect(cut).toHaveLength(1);
    expect(cut[0]!.message).toMatch(/ConnectionClosedError: .*peer is not reading: \d+ bytes queued \(maxWriteBuffer 1048576\) and none flushed for 300 ms/);
  });

  it('a client that reads slowly but steadily is never cut, however long it stays over maxWriteBuffer', async () => {
    const p = await provider({ maxWriteBuffer: MiB, writeStallTimeout: 200 });
    const w = await peer(p.port);
    w.socket.pause();
    w.send(...Array.from({ length: 60 }, (_, i) => ({ type: MessageType.Request as const, requestId: 1 + i, pattern: 'big', data: { size: 256 * KiB } })));
    await sleep(100);
    // A trickle: one read every 40 ms, for five stall timeouts.
    const until = performance.now() + 1000;
    while (performance.now() < until) {
      w.socket.resume();
      await new Promise((resolve) => setImmediate(resolve));
      w.socket.pause();
      await sleep(40);
    }
    expect(w.socket.destroyed).toBe(false);
    w.socket.resume();
    await waitUntil(() => w.answers(60).length > 0, 5000, 'every answer');
    const ends = w.received.filter((m) => m.type === MessageType.End).length;
    const errors = w.received.filter((m) => m.type === MessageType.Error).length;
    expect(ends + errors).toBe(60);
    expect(ends).toBeGreaterThan(0);
  });

  it('client: sends past maxWriteBuffer to a provider that does not read fail at once with a retryable BackpressureError; the connection lives', async () => {
    const hole = await startBlackHole({ sendHello: true });
    track(hole);
    const { client: c, states } = client(hole.port, { maxWriteBuffer: MiB, heartbeatInterval: 2000, heartbeatTimeout: 8000, timeout: 1000 });
    await c.connect();
    const payload = 'y'.repeat(256 * KiB);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 60 }, () => timed(firstValueFrom(c.send('echo', payload)))));
    const refused = results.filter((r) => r.error instanceof BackpressureError);
    const timedOut = results.filter((r) => r.error instanceof RpcTimeoutError);
    report.push(
      `client, 60 x 256 KiB calls to a provider that never reads, maxWriteBuffer 1 MiB: ${refused.length} refused with BackpressureError ` +
        `within ${Math.max(...refused.map((r) => r.ms)).toFixed(0)} ms, ${timedOut.length} sent and timed out; connection kept`,
    );
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length + timedOut.length).toBe(60);
    for (const r of refused) expect(r.ms).toBeLessThan(200);
    expect(refused[0]!.error).toMatchObject({ code: 'ERR_BACKPRESSURE', limitName: 'maxWriteBuffer', limit: MiB });
    expect(isRetryable(refused[0]!.error)).toBe(true);
    expect(states.map((s) => s.to)).toEqual(['connecting', 'ready']);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('client: a call refused by a full connection fails over to another provider', async () => {
    const hole = await startBlackHole({ sendHello: true });
    track(hole);
    const p = await provider();
    const { client: c } = client([hole.port, p.port], {
      maxWriteBuffer: MiB,
      heartbeatInterval: 2000,
      heartbeatTimeout: 8000,
      balancer: { strategy: 'round-robin', warmup: false },
      retryBudget: { ratio: 1 },
    });
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 2000, 'both providers ready');
    const holeAddress = `127.0.0.1:${hole.port}`;
    const payload = 'z'.repeat(256 * KiB);
    const ignore = { next: () => undefined, error: () => undefined };
    // Round-robin alternates between the two; a pick and a refusal are synchronous. Big calls
    // (the ones reaching the black hole time out, the others are answered) until the black hole
    // refuses one; then, in the same tick, a small call takes the real provider's turn and the
    // next big call, with a retry, is refused by the black hole and goes to the real provider.
    let retried: ReturnType<typeof timed<unknown>> | undefined;
    for (let i = 0; i < 400 && !retried; i++) {
      let refusedByHole = false;
      c.send('length', new MsRpcRecordBuilder(payload).setTimeout(300).build()).subscribe({
        ...ignore,
        error: (err: unknown) => {
          refusedByHole = err instanceof BackpressureError && err.address === holeAddress;
        },
      });
      if (refusedByHole) {
        c.send('echo', 'real provider').subscribe(ignore);
        retried = timed(firstValueFrom(c.send('length', new MsRpcRecordBuilder(payload).setRetries(1).build())));
      } else {
        await sleep(5);
      }
    }
    expect(retried).toBeDefined();
    const result = await retried!;
    expect(result.error).toBeUndefined();
    expect(result.value).toBe(payload.length);
    expect(result.ms).toBeLessThan(1000);
  });
});
