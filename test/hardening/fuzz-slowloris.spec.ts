import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { MsRpcClient } from '../../lib/index.js';
import { FUZZ_PATTERNS, rawFrame, routeBody } from '../../scripts/fuzz-wire.js';
import { startFuzzServer, type FuzzServer, type FuzzServerStats } from '../../scripts/fuzz-server-process.js';
import { MessageType } from '../../lib/protocol/frame-header.js';

/**
 * Slow and greedy peers against a real server in a child process (its RSS is its own):
 * a frame dribbled byte by byte (frameTimeout), a frame that never completes (idleTimeout), a
 * client that never reads its large answers (maxWriteBuffer, writeStallTimeout), and a flood of idle sockets
 * (maxConnections). Each is cut, with a typed error logged once where the peer misbehaved.
 */
const FRAME_TIMEOUT = 300;
const IDLE_TIMEOUT = 1500;
const MAX_WRITE_BUFFER = 8 * 1024 * 1024;
const WRITE_STALL_TIMEOUT = 1000;
const MAX_CONNECTIONS = 64;

const MiB = 2 ** 20;

interface RawPeer {
  socket: Socket;
  address: string;
  /** Resolves with the time (performance.now()) the socket closed. */
  closed: Promise<number>;
}

async function rawPeer(port: number): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  // Reads (and drops) what the server sends: a socket that never reads never sees the server's FIN.
  socket.on('data', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, address: `127.0.0.1:${socket.localPort}`, closed };
}

function request(requestId: number, pattern: string, data: unknown): Buffer {
  return rawFrame({ type: MessageType.Request, requestId, body: routeBody(pattern, Buffer.alloc(0), Buffer.from(JSON.stringify(data))) });
}

/** `promise`'s value, or `fallback` once `ms` passed (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForStats(server: FuzzServer, check: (s: FuzzServerStats) => boolean, timeoutMs: number): Promise<FuzzServerStats> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await server.stats();
    if (check(stats) || performance.now() > deadline) return stats;
    await sleep(25);
  }
}

describe('slow and greedy peers (slowloris)', () => {
  let server: FuzzServer;
  const peers: RawPeer[] = [];
  const report: string[] = [];

  beforeAll(async () => {
    server = await startFuzzServer({
      frameTimeout: FRAME_TIMEOUT,
      idleTimeout: IDLE_TIMEOUT,
      clientHeartbeatInterval: 400,
      maxWriteBuffer: MAX_WRITE_BUFFER,
      writeStallTimeout: WRITE_STALL_TIMEOUT,
      maxConnections: MAX_CONNECTIONS,
    });
  }, 60_000);

  afterAll(async () => {
    for (const peer of peers) peer.socket.destroy();
    await Promise.all(peers.map((p) => p.closed));
    await server?.stop();
    process.stdout.write(`\nslowloris report\n${report.map((l) => `  ${l}`).join('\n')}\n`);
  });

  it('cuts a frame header dribbled one byte per second at the first byte past frameTimeout, logging FrameTimeoutError once', async () => {
    const before = await server.stats();
    const peer = await rawPeer(server.port);
    peers.push(peer);
    const frame = request(1, FUZZ_PATTERNS.echo, 'never complete');
    const started = performance.now();
    let sent = 0;
    // One byte per second: the reader is never idle for IDLE_TIMEOUT, only the frame is late.
    const dribble = (async () => {
      while (sent < 16 && !peer.socket.destroyed) {
        peer.socket.write(frame.subarray(sent, sent + 1));
        sent++;
        await Promise.race([sleep(1000), peer.closed]);
      }
    })();
    const closedAt = await within(peer.closed, 5000, -1);
    await dribble;
    const elapsed = closedAt - started;
    report.push(`dribble 1 B/s: cut after ${elapsed.toFixed(0)} ms at byte ${sent} (frameTimeout ${FRAME_TIMEOUT} ms, idleTimeout ${IDLE_TIMEOUT} ms)`);
    expect(closedAt).toBeGreaterThan(0);
    // Checked when the second byte arrives, 1 s after the first; never as late as the 16th.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2000 + FRAME_TIMEOUT);
    expect(sent).toBeLessThan(16);

    const after = await waitForStats(server, (s) => (s.logByAddress[peer.address] ?? 0) > 0, 2000);
    expect(after.logByAddress[peer.address]).toBe(1);
    expect((after.errorNames.FrameTimeoutError ?? 0) - (before.errorNames.FrameTimeoutError ?? 0)).toBe(1);
  }, 15_000);

  it('cuts a fast dribbler (1 byte / 50 ms) within frameTimeout plus one interval', async () => {
    const peer = await rawPeer(server.port);
    peers.push(peer);
    const frame = request(2, FUZZ_PATTERNS.echo, 'x'.repeat(200));
    const started = performance.now();
    const dribble = (async () => {
      for (let i = 0; i < frame.length && !peer.socket.destroyed; i++) {
        peer.socket.write(frame.subarray(i, i + 1));
        await Promise.race([sleep(50), peer.closed]);
      }
    })();
    const closedAt = await within(peer.closed, 5000, -1);
    await dribble;
    const elapsed = closedAt - started;
    report.push(`dribble 1 B/50 ms: cut after ${elapsed.toFixed(0)} ms`);
    expect(closedAt).toBeGreaterThan(0);
    expect(elapsed).toBeGreaterThanOrEqual(FRAME_TIMEOUT);
    expect(elapsed).toBeLessThan(FRAME_TIMEOUT + 50 + 700);
  }, 15_000);

  it('cuts a socket whose first frame never completes (silent after 5 bytes) at idleTimeout, with FrameTimeoutError; a silent socket quietly', async () => {
    const before = await server.stats();
    const partial = await rawPeer(server.port);
    const silent = await rawPeer(server.port);
    peers.push(partial, silent);
    const started = performance.now();
    partial.socket.write(request(3, FUZZ_PATTERNS.echo, 1).subarray(0, 5));
    const [partialAt, silentAt] = await Promise.all([within(partial.closed, 5000, -1), within(silent.closed, 5000, -1)]);
    report.push(
      `first frame never completed: cut after ${(partialAt - started).toFixed(0)} ms; silent socket cut after ${(silentAt - started).toFixed(0)} ms (idleTimeout ${IDLE_TIMEOUT} ms)`,
    );
    for (const at of [partialAt, silentAt]) {
      expect(at - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT - 50);
      expect(at - started).toBeLessThan(IDLE_TIMEOUT * 1.05 + 1000);
    }
    const after = await waitForStats(server, (s) => (s.logByAddress[partial.address] ?? 0) > 0, 2000);
    expect(after.logByAddress[partial.address]).toBe(1);
    expect((after.errorNames.FrameTimeoutError ?? 0) - (before.errorNames.FrameTimeoutError ?? 0)).toBe(1);
    // Saying nothing is not a fault (health checks, port scans): no warning for it.
    expect(after.logByAddress[silent.address]).toBeUndefined();
  }, 15_000);

  it('keeps busy, well-formed clients whose frames straddle reads, and large frames sent at full speed', async () => {
    const client = new MsRpcClient({ providers: [`127.0.0.1:${server.port}`], snapshotDir: false, timeout: 10_000, logger: { log() {}, warn() {}, error() {} } });
    try {
      await client.connect();
      const until = performance.now() + 4 * FRAME_TIMEOUT;
      let calls = 0;
      const loops = Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          const payload = { n: calls++, text: 'y'.repeat(3000) };
          await expect(firstValueFrom(client.send(FUZZ_PATTERNS.echo, payload))).resolves.toEqual(payload);
        }
      });
      const large = 'z'.repeat(4 * MiB);
      await expect(firstValueFrom(client.send(FUZZ_PATTERNS.echo, large))).resolves.toBe(large);
      await Promise.all(loops);
      expect(calls).toBeGreaterThan(8);
    } finally {
      await client.close();
    }
  }, 20_000);

  it('bounds what a client that never reads its large answers costs (maxWriteBuffer), and cuts it after writeStallTimeout', async () => {
    const baseline = await server.stats(true);
    const peer = await rawPeer(server.port);
    peers.push(peer);
    // Never read: the server's answers pile up in the kernel, then in its own write queue.
    peer.socket.pause();
    const requests = 48;
    const started = performance.now();
    for (let id = 1; id <= requests; id++) peer.socket.write(request(id, FUZZ_PATTERNS.big, { size: MiB }));
    const cutLine = (s: FuzzServerStats) => s.samples.some((line) => line.includes(peer.address) && /ConnectionClosedError: .*not reading/.test(line));
    const after = await waitForStats(server, cutLine, 10_000);
    const cutMs = performance.now() - started;
    const growth = (after.peakRss - baseline.rss) / MiB;
    report.push(
      `never-reading client (${requests} x 1 MiB answers asked): cut after ${cutMs.toFixed(0)} ms (writeStallTimeout ${WRITE_STALL_TIMEOUT} ms); server RSS ${(baseline.rss / MiB).toFixed(1)} -> peak ${(after.peakRss / MiB).toFixed(1)} MiB (+${growth.toFixed(1)} MiB, maxWriteBuffer ${MAX_WRITE_BUFFER / MiB} MiB)`,
    );
    expect(cutLine(after)).toBe(true);
    // One line for this peer, its cut (its answers refused past maxWriteBuffer are debug lines:
    // each caller got a BackpressureError, and the metrics count them).
    expect(after.logByAddress[peer.address]).toBe(1);
    // Answers past maxWriteBuffer failed alone (BackpressureError) instead of queueing; the cut
    // came once nothing left the queue for writeStallTimeout.
    expect(cutMs).toBeGreaterThanOrEqual(WRITE_STALL_TIMEOUT);
    // The write queue is capped; what is left is the kernel's buffers and one answer being built.
    expect(growth).toBeLessThan(64);
    peer.socket.resume();
    expect(await within(peer.closed, 5000, -1)).toBeGreaterThan(0);
    const settled = await waitForStats(server, (s) => s.connections === 0 && s.inFlightRequests === 0, 5000);
    expect(settled.connections).toBe(0);
    expect(settled.inFlightRequests).toBe(0);
  }, 30_000);

  it(`refuses sockets over maxConnections (${MAX_CONNECTIONS}) at once, logs the refusals once, and serves again afterwards`, async () => {
    const before = await server.stats();
    const flood = 150;
    const started = performance.now();
    const sockets = await Promise.all(Array.from({ length: flood }, () => rawPeer(server.port).catch(() => undefined)));
    const opened = sockets.filter((s): s is RawPeer => s !== undefined);
    peers.push(...opened);
    // The refused ones are closed by the server right away; the accepted ones stay until idle.
    let closedCount = 0;
    for (const p of opened) void p.closed.then(() => closedCount++);
    const deadline = performance.now() + IDLE_TIMEOUT - 200;
    while (closedCount < flood - MAX_CONNECTIONS && performance.now() < deadline) await sleep(20);
    const refusedClosed = closedCount;
    const stats = await server.stats();
    const refused = stats.refusedConnections - before.refusedConnections;
    report.push(
      `connection flood: ${flood} idle sockets, ${refused} refused and closed within ${(performance.now() - started).toFixed(0)} ms, ${stats.connections} held (maxConnections ${MAX_CONNECTIONS})`,
    );
    // A refused socket may even be reset before its connect completes here: count those as closed.
    expect(refusedClosed + (flood - opened.length)).toBeGreaterThanOrEqual(flood - MAX_CONNECTIONS);
    expect(refused).toBeGreaterThanOrEqual(flood - MAX_CONNECTIONS);
    expect(stats.connections).toBeLessThanOrEqual(MAX_CONNECTIONS);
    const refusalLines = stats.unattributed.filter((l) => l.includes('refused'));
    expect(refusalLines).toHaveLength(1);
    expect(refusalLines[0]).toMatch(/maxConnections \(64\)/);

    // The held ones say nothing: idle, cut quietly; then the server serves again.
    const drained = await waitForStats(server, (s) => s.connections === 0, IDLE_TIMEOUT * 2 + 2000);
    expect(drained.connections).toBe(0);
    const client = new MsRpcClient({ providers: [`127.0.0.1:${server.port}`], snapshotDir: false, timeout: 5000, logger: { log() {}, warn() {}, error() {} } });
    try {
      await client.connect();
      await expect(firstValueFrom(client.send(FUZZ_PATTERNS.echo, 'after the flood'))).resolves.toBe('after the flood');
    } finally {
      await client.close();
    }
  }, 30_000);
});
