import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { MessageType, type Frame } from '../../lib/protocol/frame-header.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';
import type { Message } from '../../lib/protocol/message.js';
import { sleep, waitUntil } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * The drain race: a request the client wrote before the server's GoAway reached it arrives after
 * the GoAway. The server must still answer it (it leaves closing to the client), and still cut
 * clients that never close at `shutdownTimeout`.
 */

const codec = new MessageCodec(resolveProtocolOptions());

/** A raw client: decodes what the server sends, and hands each message to `onMessage` first. */
interface RawPeer {
  socket: Socket;
  messages: Message[];
  closed: Promise<void>;
  /** The server ended its side (this peer allows half-open sockets: it decides when to close). */
  ended: Promise<void>;
  onMessage?: (message: Message) => void;
}

async function rawPeer(port: number, sockets: Socket[]): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  sockets.push(socket);
  socket.on('error', () => undefined);
  const peer: RawPeer = {
    socket,
    messages: [],
    closed: new Promise((resolve) => socket.once('close', () => resolve())),
    ended: new Promise((resolve) => socket.once('end', () => resolve())),
  };
  const decoder = new FrameDecoder(codec.maxFrameSize);
  socket.on('data', (chunk: Buffer) =>
    decoder.push(chunk, (frame: Frame) => {
      const message = codec.decode(frame);
      peer.messages.push(message);
      peer.onMessage?.(message);
    }),
  );
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(codec.encode({ type: MessageType.Hello, settings: { idleTimeoutMs: 0, maxFrameSize: codec.maxFrameSize } }));
  await waitUntil(() => peer.messages.some((m) => m.type === MessageType.Hello), 3000, "the server's Hello");
  return peer;
}

const request = (requestId: number, data: unknown): Buffer =>
  codec.encode({ type: MessageType.Request, requestId, pattern: 'echo', data });

describe('graceful drain (GoAway)', () => {
  const sockets: Socket[] = [];
  const providers: TestProvider[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(providers.splice(0).map((p) => p.close()));
  });

  async function provider(shutdownTimeout: number): Promise<TestProvider> {
    const p = await startTestProvider({ shutdownTimeout });
    providers.push(p);
    return p;
  }

  it('answers a request that arrives after its GoAway, then closes promptly once the client ends', async () => {
    const p = await provider(5000);
    const peer = await rawPeer(p.port, sockets);
    // The race, made certain: the request is written only once the GoAway has arrived.
    peer.onMessage = (m) => {
      if (m.type === MessageType.GoAway) peer.socket.write(request(7, 'written after the GoAway'));
    };
    const started = performance.now();
    const closing = p.server.close();
    const answer = await waitUntil(
      () => peer.messages.find((m) => m.type !== MessageType.Hello && m.type !== MessageType.GoAway),
      3000,
      'the answer to the late request',
    );
    expect(answer).toEqual({ type: MessageType.End, requestId: 7, hasData: true, data: 'written after the GoAway' });
    // Still the client's turn to close: the server has not ended its side.
    expect(peer.socket.readableEnded).toBe(false);
    peer.socket.end();
    await closing;
    await peer.closed;
    // Closed by the client's end, not by the 5 s shutdownTimeout.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('cuts a client that never closes at shutdownTimeout', async () => {
    const p = await provider(300);
    const peer = await rawPeer(p.port, sockets);
    const started = performance.now();
    await p.server.close();
    const elapsed = performance.now() - started;
    await peer.ended;
    expect(peer.messages.some((m) => m.type === MessageType.GoAway)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
  });

  it('MsRpcClient under a call loop: no call written before the GoAway fails, and close() is prompt', async () => {
    const p = await provider(5000);
    const { client, logger } = testClient(p.port, { timeout: 500 });
    try {
      await client.connect();
      let stop = false;
      let answered = 0;
      const failures: Error[] = [];
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          try {
            await firstValueFrom(client.send('echo', `${w}:${i}`));
            answered++;
          } catch (err) {
            failures.push(err as Error);
            await sleep(20);
          }
        }
      };
      // Enough calls in flight that some are always on the wire when the GoAway leaves.
      const workers = Array.from({ length: 32 }, (_, w) => worker(w));
      await waitUntil(() => answered >= 500, 5000, '500 answers before the close');
      const before = answered;
      const started = performance.now();
      await p.server.close();
      const closeMs = performance.now() - started;
      const answeredDuringClose = answered - before;
      stop = true;
      await Promise.all(workers);
      const failedBy = new Map<string, number>();
      for (const e of failures) failedBy.set(e.name, (failedBy.get(e.name) ?? 0) + 1);
      console.info(
        `[drain] close() took ${closeMs.toFixed(0)} ms (shutdownTimeout 5000); ${answeredDuringClose} calls answered while it ran; ` +
          `failed after the GoAway: ${JSON.stringify(Object.fromEntries(failedBy))}`,
      );
      expect(logger.lines.some((l) => l.message.includes('server is draining'))).toBe(true);
      // Calls routed after the GoAway fail for want of a provider; none fails as cut by the drain.
      expect(failures.filter((e) => /server shutting down/.test(e.message))).toEqual([]);
      expect(answered).toBeGreaterThan(before);
      // The client closes its side once its last call settled: nowhere near the 5 s shutdownTimeout.
      expect(closeMs).toBeLessThan(2000);
    } finally {
      await client.close();
    }
  });
});
