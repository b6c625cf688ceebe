import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { MsRpcRecordBuilder, RpcTimeoutError, type MsRpcClient } from '../../lib/index.js';
import { MessageType, type Frame } from '../../lib/protocol/frame-header.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';
import type { Message } from '../../lib/protocol/message.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * A step of the wall clock (NTP, an operator, a resumed VM) while a real client and server
 * exchange calls, heartbeats and a slowly arriving frame. Durations run on the monotonic clock,
 * so neither direction may change anything: no call times out early or late, no connection is
 * dropped (client heartbeats, server idle sweep, frame timeout), idle pings keep their pace.
 * `Date.now` is what jumps (as a step of the system clock makes it); `performance.now` does not.
 */

const HOUR = 3_600_000;
const IDLE_TIMEOUT = 1000;
const HANG_TIMEOUT = 700;
const codec = new MessageCodec(resolveProtocolOptions());

/** A raw peer that says Hello and records what the server sends. */
async function rawPeer(port: number): Promise<{ socket: Socket; messages: Message[]; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  let closed = false;
  socket.once('close', () => (closed = true));
  const messages: Message[] = [];
  const decoder = new FrameDecoder(codec.maxFrameSize);
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (frame: Frame) => void messages.push(codec.decode(frame))));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(codec.encode({ type: MessageType.Hello, settings: { idleTimeoutMs: 0, maxFrameSize: codec.maxFrameSize } }));
  await waitUntil(() => messages.some((m) => m.type === MessageType.Hello), 3000, "the server's Hello");
  return { socket, messages, closed: () => closed };
}

describe('a wall-clock step of ±1 h changes nothing', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    jest.restoreAllMocks();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it.each([
    ['forward', HOUR],
    ['back', -HOUR],
  ])('jumping %s mid-run', async (_direction, step) => {
    const realNow = Date.now.bind(Date);
    let offset = 0;
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);

    const provider: TestProvider = await startTestProvider({
      idleTimeout: IDLE_TIMEOUT,
      clientHeartbeatInterval: 100,
      // Long enough for the frame dribbled across the jump, short next to an hour.
      frameTimeout: 3000,
    });
    cleanups.push(() => provider.close());
    const { client, states } = testClient(provider.port, { timeout: 1000 });
    cleanups.push(() => client.close());
    await client.connect();
    const peer = await rawPeer(provider.port);
    cleanups.push(() => peer.socket.destroy());
    await waitUntil(() => provider.sockets.size === 2, 3000, 'both connections accepted');
    const clientSocket = [...provider.sockets].find((s) => s.remotePort !== peer.socket.localPort)!;

    // A steady call loop, a slow call and a call bound to time out, all in flight at the jump.
    const loopFailures: unknown[] = [];
    let loopAnswers = 0;
    let looping = true;
    const loop = Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        while (looping) {
          try {
            await firstValueFrom(client.send('echo', i));
            loopAnswers++;
          } catch (err) {
            loopFailures.push(err);
          }
          await sleep(20);
        }
      }),
    );
    cleanups.push(() => ((looping = false), loop));
    const slow = timed(firstValueFrom(client.send('delay', { ms: 600, value: 'slow' })));
    const hangStarted = performance.now();
    const hang = firstValueFrom((client as MsRpcClient).send('hang', new MsRpcRecordBuilder({ id: 'h' }).setTimeout(HANG_TIMEOUT).build())).then(
      () => ({ error: undefined as unknown, ms: performance.now() - hangStarted }),
      (error: unknown) => ({ error, ms: performance.now() - hangStarted }),
    );
    // The raw peer's request: its first half now, the rest after the jump.
    const frame = codec.encode({ type: MessageType.Request, requestId: 1, pattern: 'echo', data: 'x'.repeat(4096) });
    peer.socket.write(frame.subarray(0, frame.length >> 1));

    await sleep(200);
    offset = step;
    const jumpedAt = performance.now();

    await sleep(300);
    peer.socket.write(frame.subarray(frame.length >> 1, (frame.length >> 1) + 1));
    await sleep(300);
    peer.socket.write(frame.subarray((frame.length >> 1) + 1));

    // The call bound to time out did so on time, not at the jump (forward) nor an hour late (back).
    const hung = await Promise.race([hang, sleep(HANG_TIMEOUT + 1500).then(() => ({ error: 'no answer', ms: Number.NaN }))]);
    expect(hung.error).toBeInstanceOf(RpcTimeoutError);
    expect(hung.ms).toBeGreaterThanOrEqual(HANG_TIMEOUT - 5);
    expect(hung.ms).toBeLessThan(HANG_TIMEOUT + 400);
    await expect(slow).resolves.toMatchObject({ ok: true, value: 'slow' });
    await waitUntil(() => peer.messages.some((m) => m.type === MessageType.End && m.requestId === 1), 2000, "the raw peer's answer");
    expect(peer.closed()).toBe(false);
    // It sends no pings: the idle sweep would rightly cut it in the idle phase below.
    peer.socket.destroy();

    // Idle for longer than the server's idleTimeout: the client's idle pings keep their pace and
    // the idle sweep leaves the connection alone.
    looping = false;
    await loop;
    let reads = 0;
    const countReads = () => reads++;
    clientSocket.on('data', countReads);
    await sleep(1.5 * IDLE_TIMEOUT);
    clientSocket.off('data', countReads);
    await expect(firstValueFrom(client.send('echo', 'after'))).resolves.toBe('after');

    expect(loopFailures).toEqual([]);
    expect(loopAnswers).toBeGreaterThan(20);
    // One connection each, never dropped: the client never left `ready`, the server accepted no other.
    expect(states.map((s) => s.to)).toEqual(['connecting', 'ready']);
    expect(provider.accepted()).toBe(2);
    expect([...provider.sockets]).toEqual([clientSocket]);
    // Idle pings every 300 ms (FAST_LIVENESS), each read by the server.
    expect(reads).toBeGreaterThanOrEqual(3);
    console.info(
      `[wall-clock] ${step > 0 ? '+' : '-'}1 h step: ${loopAnswers} calls, 0 failures; ${HANG_TIMEOUT} ms call timed out after ` +
        `${Math.round(hung.ms)} ms; ${reads} idle pings read in ${1.5 * IDLE_TIMEOUT} ms; no connection dropped ` +
        `(${Math.round(performance.now() - jumpedAt)} ms observed after the step)`,
    );
  });
});
