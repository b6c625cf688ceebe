import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { MsRpcRecordBuilder, RpcTimeoutError } from '../../lib/index.js';
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
    await waitUntil(() => provider.sockets.size === 1, 3000, 'the client connection accepted');
    const [clientSocket] = provider.sockets;
    // A second client that makes no call: only idle pings keep its connection (and the server's idle sweep) going.
    const idle = testClient(provider.port);
    cleanups.push(() => idle.client.close());
    await idle.client.connect();
    await waitUntil(() => provider.sockets.size === 2, 3000, 'the idle client connection accepted');
    const idleSocket = [...provider.sockets].find((s) => s !== clientSocket)!;
    const peer = await rawPeer(provider.port);
    cleanups.push(() => peer.socket.destroy());

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
    // Its timeout outlasts the hang call's: on a wall clock, the expiry pass the hang call's timer
    // triggers after a forward step would take it too.
    const slow = timed(firstValueFrom(client.send('delay', new MsRpcRecordBuilder({ ms: 900, value: 'slow' }).setTimeout(1500).build())));
    const hangStarted = performance.now();
    const hang = firstValueFrom(client.send('hang', new MsRpcRecordBuilder({ id: 'h' }).setTimeout(HANG_TIMEOUT).build())).then(
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

    // Every departure from "nothing changed" is collected, so a failure shows all of them.
    const problems: string[] = [];
    const answered = await waitUntil(() => peer.messages.some((m) => m.type === MessageType.End && m.requestId === 1), 2000, "the raw peer's answer").catch(() => false);
    if (!answered || peer.closed()) problems.push(`the frame sent across the step was ${peer.closed() ? 'cut (connection closed)' : 'not answered'}`);
    // It sends no pings: the idle sweep would rightly cut it in the idle phase below.
    peer.socket.destroy();

    // The call bound to time out did so on time, not at the jump (forward) nor an hour late (back).
    const hung = await Promise.race([hang, sleep(HANG_TIMEOUT + 1500).then(() => ({ error: 'no answer', ms: Number.NaN }))]);
    if (!(hung.error instanceof RpcTimeoutError) || !(hung.ms >= HANG_TIMEOUT - 5 && hung.ms < HANG_TIMEOUT + 400)) {
      problems.push(`the ${HANG_TIMEOUT} ms call ended with ${String(hung.error)} after ${Math.round(hung.ms)} ms`);
    }
    const slowResult = await slow;
    if (slowResult.value !== 'slow') problems.push(`the 900 ms call (timeout 1500 ms) failed after ${Math.round(slowResult.ms)} ms: ${String(slowResult.error)}`);

    // Idle for longer than the server's idleTimeout: the client's idle pings keep their pace and
    // the idle sweep leaves the connection alone.
    looping = false;
    await loop;
    let reads = 0;
    const countReads = () => reads++;
    clientSocket.on('data', countReads);
    await sleep(1.5 * IDLE_TIMEOUT);
    clientSocket.off('data', countReads);
    // Idle pings every 300 ms (FAST_LIVENESS), each read by the server.
    if (reads < 3) problems.push(`${reads} idle ping(s) read by the server in ${1.5 * IDLE_TIMEOUT} ms`);
    const after = await timed(firstValueFrom(client.send('echo', 'after')));
    if (after.value !== 'after') problems.push(`a call after the idle phase failed: ${String(after.error)}`);

    if (loopFailures.length > 0) problems.push(`${loopFailures.length} of ${loopFailures.length + loopAnswers} loop calls failed, e.g. ${String(loopFailures[0])}`);
    if (idle.logger.lines.some((l) => /heartbeat|idle/i.test(l.message) && l.level !== 'debug' && l.level !== 'verbose')) {
      problems.push(`idle client: ${idle.logger.lines.map((l) => l.message).join(' | ')}`);
    }
    // One connection each, never dropped: the clients never left `ready`, the server accepted no other.
    for (const [name, events] of [['busy', states], ['idle', idle.states]] as const) {
      const transitions = events.map((e) => `${e.from}->${e.to}${e.reason ? ` (${e.reason.message})` : ''}`);
      if (transitions.join() !== 'idle->connecting,connecting->ready') problems.push(`${name} client connection states: ${transitions.join(', ')}`);
    }
    if (provider.accepted() !== 3 || provider.sockets.size !== 2 || !provider.sockets.has(clientSocket) || !provider.sockets.has(idleSocket)) {
      problems.push(
        `server: ${provider.accepted()} connections accepted, ${provider.sockets.size} open ` +
          `(busy client's ${provider.sockets.has(clientSocket) ? 'open' : 'closed'}, idle client's ${provider.sockets.has(idleSocket) ? 'open' : 'closed'})`,
      );
    }
    expect(problems).toEqual([]);
    expect(loopAnswers).toBeGreaterThan(20);
    console.info(
      `[wall-clock] ${step > 0 ? '+' : '-'}1 h step: ${loopAnswers} calls, 0 failures; ${HANG_TIMEOUT} ms call timed out after ` +
        `${Math.round(hung.ms)} ms; 900 ms call answered; ${reads} idle pings read in ${1.5 * IDLE_TIMEOUT} ms; no connection dropped ` +
        `(${Math.round(performance.now() - jumpedAt)} ms observed after the step)`,
    );
  });
});
