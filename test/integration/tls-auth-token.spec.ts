import { describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { AuthError } from '../../lib/index.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import type { Message } from '../../lib/protocol/message.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { secureFixtures, type SecureProvider } from '../support/secure-provider.js';

/**
 * Shared-token authentication and the client Hello, end to end on loopback: a real Nest provider,
 * real clients, and raw sockets that break the handshake on purpose. The server must dispatch
 * nothing before a valid token, refuse with ERR_AUTH and close; the client must fail fast.
 */
const TOKEN = 's3cret-token-0123456789';
const codec = new MessageCodec(resolveProtocolOptions());

/** A hand-driven peer: sends frames, records what comes back, and when the server closed. */
interface RawPeer {
  readonly socket: Socket;
  readonly received: Message[];
  send(...messages: Message[]): void;
  /** Resolves with ms since connect once the server closed the connection. */
  readonly closed: Promise<number>;
}

function rawPeer(port: number): Promise<RawPeer> {
  const started = performance.now();
  const socket = connect({ host: '127.0.0.1', port });
  const received: Message[] = [];
  const decoder = new FrameDecoder(codec.maxFrameSize);
  socket.on('data', (chunk) => decoder.push(chunk, (frame) => received.push(codec.decode(frame))));
  // The server ends its side after the refusal; end ours so the socket closes.
  socket.on('end', () => socket.end());
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        received,
        closed,
        send: (...messages) => socket.write(Buffer.concat(messages.map((m) => codec.encode(m)))),
      }),
    );
  });
}

const hello = (authToken?: string): Message => ({
  type: MessageType.Hello,
  settings: { idleTimeoutMs: 0, maxFrameSize: codec.maxFrameSize, ...(authToken === undefined ? {} : { authToken }) },
});
const request = (requestId = 1): Message => ({ type: MessageType.Request, requestId, pattern: 'echo', data: 'sneaky' });

describe('token authentication and the client Hello', () => {
  const { provider, client, track } = secureFixtures(3000);

  async function peer(p: SecureProvider): Promise<RawPeer> {
    const r = await rawPeer(p.port);
    track({ close: async () => void r.socket.destroy() });
    return r;
  }

  const refusals = (p: SecureProvider) => p.logger.lines.filter((l) => l.level === 'warn' && l.message.includes('refused: AuthError'));

  it('the right token gets in: calls, events and streams work', async () => {
    const p = await provider({ auth: { tokens: [TOKEN] } });
    const { client: c } = client(p, { authToken: TOKEN });
    await expect(firstValueFrom(c.send('echo', 'authenticated'))).resolves.toBe('authenticated');
    await expect(lastValueFrom(c.send('stream', { count: 3, every: 5 }).pipe(toArray()))).resolves.toEqual([1, 2, 3]);
    await lastValueFrom(c.emit('note', 'hi'), { defaultValue: undefined });
    await waitUntil(() => p.handlers.notes.length === 1, 2000, 'the event');
    // The client Hello travels in the client's codec; the server reads either.
    const { client: packed } = client(p, { authToken: TOKEN, codec: 'msgpack' });
    await expect(firstValueFrom(packed.send('echo', { packed: true }))).resolves.toEqual({ packed: true });
    expect(refusals(p)).toEqual([]);
  });

  it.each([
    ['a wrong token', 'n0t-the-token', /invalid token/, true],
    ['no token', undefined, /no token in the Hello/, false],
  ])('%s: calls fail fast with AuthError, nothing is dispatched, and reconnects back off', async (_name, token, detail, watchBackoff) => {
    const p = await provider({ auth: { tokens: [TOKEN] } });
    // The library's default backoff (100 ms doubling, ±20 % jitter), not the fast test one.
    const { client: c, logger } = client(p, { authToken: token, backoff: {} });

    const result = await timed(firstValueFrom(c.send('echo', 'let me in')));
    expect(result.error).toBeInstanceOf(AuthError);
    expect(result.error).toMatchObject({ name: 'AuthError', code: 'ERR_AUTH', address: p.address });
    expect((result.error as Error).message).toMatch(detail);
    expect(result.ms).toBeLessThan(500);
    await expect(c.connect()).rejects.toBeInstanceOf(AuthError);
    await expect(firstValueFrom(c.emit('note', 'x'), { defaultValue: undefined })).rejects.toBeInstanceOf(AuthError);

    if (watchBackoff) {
      // Reconnects keep their exponential backoff (100, 200, 400 ms...): a handful of attempts
      // in a second, not hundreds, even with calls coming in all along (each fails at once).
      const deadline = performance.now() + 1000;
      let calls = 0;
      while (performance.now() < deadline) {
        const call = await timed(firstValueFrom(c.send('echo', 'again')));
        expect(call.error).toBeInstanceOf(AuthError);
        calls++;
        await sleep(10);
      }
      expect(calls).toBeGreaterThan(30);
      expect(p.accepted()).toBeGreaterThanOrEqual(2);
      expect(p.accepted()).toBeLessThanOrEqual(5);
    }
    expect(p.handlers.invocations).toEqual([]);
    // The server warns once per refused connection (the last one may still be on its way), with
    // the peer's address and never a token.
    expect(refusals(p).length).toBeGreaterThanOrEqual(p.accepted() - 1);
    expect(refusals(p).length).toBeLessThanOrEqual(p.accepted());
    for (const line of refusals(p)) {
      expect(line.message).toMatch(/^127\.0\.0\.1:\d+: refused: AuthError/);
      expect(line.message).not.toContain(TOKEN);
      if (token) expect(line.message).not.toContain(token);
    }
    // The client warns once, not on every attempt.
    expect(logger.lines.filter((l) => l.level === 'warn' && /authentication failed/.test(l.message))).toHaveLength(1);
  });

  it.each([
    ['a request before the Hello', () => [request()]],
    ['an event before the Hello', () => [{ type: MessageType.Event, pattern: 'note', data: 'sneaky' } as Message]],
    ['a ping before the Hello', () => [{ type: MessageType.Ping, requestId: 7 } as Message]],
    ['a Hello with a wrong token, then a request', () => [hello('guess'), request()]],
    ['a Hello without a token, then a request', () => [hello(), request()]],
  ])('a raw peer sending %s gets ERR_AUTH and a close, and no handler runs', async (_name, frames) => {
    const p = await provider({ auth: { tokens: [TOKEN] } });
    const r = await peer(p);
    r.send(...frames());
    const ms = await r.closed;
    expect(ms).toBeLessThan(1500);
    expect(r.received).toEqual([
      { type: MessageType.Error, requestId: 0, error: expect.objectContaining({ code: 'ERR_AUTH', name: 'AuthError' }) },
    ]);
    expect(p.handlers.invocations).toEqual([]);
    await waitUntil(() => p.server.connectionCount === 0, 2000, 'the server to drop the connection');
    expect(refusals(p)).toHaveLength(1);
  });

  it('a raw peer with the right token is served (the gate, not the raw peer, refuses the others)', async () => {
    const p = await provider({ auth: { tokens: [TOKEN] } });
    const r = await peer(p);
    r.send(hello(TOKEN), request(5));
    await waitUntil(() => r.received.length === 2, 2000, 'the Hello and the answer');
    expect(r.received[0]).toMatchObject({ type: MessageType.Hello, settings: { idleTimeoutMs: 60000 } });
    expect(r.received[1]).toEqual({ type: MessageType.End, requestId: 5, hasData: true, data: 'sneaky' });
    expect(p.handlers.invocations).toEqual(['echo']);
  });

  it('a silent socket is refused and closed after handshakeTimeout', async () => {
    const p = await provider({ auth: { tokens: [TOKEN] }, handshakeTimeout: 200 });
    const r = await peer(p);
    const ms = await r.closed;
    expect(ms).toBeGreaterThanOrEqual(180);
    expect(ms).toBeLessThan(1500);
    expect(r.received).toEqual([
      { type: MessageType.Error, requestId: 0, error: expect.objectContaining({ code: 'ERR_AUTH', message: expect.stringMatching(/within 200 ms/) }) },
    ]);
  });

  it('rotation: every configured token is accepted, any other refused', async () => {
    const p = await provider({ auth: { tokens: ['old-token', 'new-token'] } });
    const { client: old } = client(p, { authToken: 'old-token' });
    const { client: fresh } = client(p, { authToken: 'new-token' });
    const { client: stranger } = client(p, { authToken: 'newer-token' });
    await expect(firstValueFrom(old.send('echo', 'old'))).resolves.toBe('old');
    await expect(firstValueFrom(fresh.send('echo', 'new'))).resolves.toBe('new');
    await expect(firstValueFrom(stranger.send('echo', 'x'))).rejects.toBeInstanceOf(AuthError);
    expect(p.handlers.invocations).toEqual(['echo', 'echo']);
  });

  it('a server without auth accepts clients with and without a token', async () => {
    const p = await provider({});
    const { client: withToken } = client(p, { authToken: TOKEN });
    const { client: without } = client(p, {});
    await expect(firstValueFrom(withToken.send('echo', 1))).resolves.toBe(1);
    await expect(firstValueFrom(without.send('echo', 2))).resolves.toBe(2);
  });

  it("respects the client's maxFrameSize: a too-large answer fails only its call, the connection survives", async () => {
    const p = await provider({});
    const { client: c, states } = client(p, { maxFrameSize: 64 * 1024 });
    await expect(firstValueFrom(c.send('big', { size: 60_000 }))).resolves.toHaveLength(60_000);
    const tooBig = await timed(firstValueFrom(c.send('big', { size: 100_000 })));
    expect(tooBig.error).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE', name: 'FrameTooLargeError' });
    expect((tooBig.error as { message: string }).message).toMatch(/client limit/);
    expect(tooBig.ms).toBeLessThan(500);
    await expect(firstValueFrom(c.send('echo', 'next'))).resolves.toBe('next');
    expect(states.filter((s) => s.to === 'ready')).toHaveLength(1);
    expect(states.filter((s) => s.to === 'transient-failure')).toHaveLength(0);
    expect(p.accepted()).toBe(1);
  });
});
