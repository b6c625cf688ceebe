import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { Controller, Module, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { InvalidOptionsError, MsRpcServer, type MsRpcServerOptions } from '../../lib/index.js';
import { resolveServerOptions } from '../../lib/server/server-options.js';
import { CodecId, MessageType, type Frame } from '../../lib/protocol/frame-header.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { rawFrame, routeBody } from '../../scripts/fuzz-wire.js';

/**
 * The server's side of the fuzz, one fault at a time and in-process: what the live fuzz checks
 * statistically (test/hardening/fuzz.spec.ts), pinned down exactly here.
 */

@Controller()
class FaultController {
  @MessagePattern('echo')
  echo(@Payload() data: unknown): unknown {
    return data;
  }

  @EventPattern<string>('known.event')
  event(): void {}
}

@Module({ controllers: [FaultController] })
class FaultModule {}

class LinesLogger implements LoggerService {
  readonly lines: Array<{ level: string; text: string }> = [];
  log(m: unknown) {
    this.lines.push({ level: 'log', text: String(m) });
  }
  warn(m: unknown) {
    this.lines.push({ level: 'warn', text: String(m) });
  }
  error(m: unknown) {
    this.lines.push({ level: 'error', text: String(m) });
  }
  debug(m: unknown) {
    this.lines.push({ level: 'debug', text: String(m) });
  }
  verbose(m: unknown) {
    this.lines.push({ level: 'verbose', text: String(m) });
  }
  about(address: string, level: string): string[] {
    return this.lines.filter((l) => l.level === level && l.text.startsWith(address)).map((l) => l.text);
  }
}

/** A raw client that decodes what the server sends back. */
interface Peer {
  socket: Socket;
  address: string;
  frames: Frame[];
  closed: Promise<void>;
}

async function peer(port: number): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(8 * 1024 * 1024);
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (f) => frames.push({ ...f, body: Buffer.from(f.body) })));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, address: `127.0.0.1:${socket.localPort}`, frames, closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(10);
}

describe('server faults, one at a time', () => {
  let app: INestMicroservice | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await app?.close();
    app = undefined;
  });

  async function start(options: Partial<MsRpcServerOptions> = {}): Promise<{ server: MsRpcServer; logger: LinesLogger }> {
    const logger = new LinesLogger();
    const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 200, ...options });
    app = await NestFactory.createMicroservice(FaultModule, { strategy: server, logger });
    await app.listen();
    return { server, logger };
  }

  async function open(port: number): Promise<Peer> {
    const p = await peer(port);
    sockets.push(p.socket);
    return p;
  }

  it('frameTimeout and maxConnections: documented defaults, validated', () => {
    const o = resolveServerOptions();
    expect(o.frameTimeout).toBe(30_000);
    expect(o.maxConnections).toBe(10_000);
    expect(resolveServerOptions({ frameTimeout: 0, maxConnections: 0 })).toMatchObject({ frameTimeout: 0, maxConnections: 0 });
    for (const bad of [{ frameTimeout: -1 }, { frameTimeout: 1.5 }, { maxConnections: -1 }, { maxConnections: '10' as never }]) {
      const field = Object.keys(bad)[0];
      expect(() => resolveServerOptions(bad)).toThrow(InvalidOptionsError);
      expect(() => resolveServerOptions(bad)).toThrow(`MsRpcServer.${field}`);
    }
  });

  it('maxStreamBuffer and writeStallTimeout: documented defaults, validated', () => {
    const o = resolveServerOptions();
    expect(o.maxStreamBuffer).toBe(16 * 1024 * 1024);
    expect(o.writeStallTimeout).toBe(30_000);
    // By default a quarter of maxWriteBuffer, whatever it is.
    expect(resolveServerOptions({ maxWriteBuffer: 8 * 1024 * 1024 }).maxStreamBuffer).toBe(2 * 1024 * 1024);
    expect(resolveServerOptions({ maxWriteBuffer: 4096, maxStreamBuffer: 4096 }).maxStreamBuffer).toBe(4096);
    for (const bad of [{ maxStreamBuffer: 100 }, { maxWriteBuffer: 4096, maxStreamBuffer: 8192 }, { writeStallTimeout: 0 }, { writeStallTimeout: 1.5 }]) {
      const field = Object.keys(bad).at(-1);
      expect(() => resolveServerOptions(bad)).toThrow(InvalidOptionsError);
      expect(() => resolveServerOptions(bad)).toThrow(`MsRpcServer.${field}`);
    }
  });

  it('a flood of undecodable frames: each request gets a typed error, the connection lives, one warning', async () => {
    const { server, logger } = await start();
    const p = await open(server.port);
    const garbage = Array.from({ length: 100 }, (_, i) =>
      rawFrame({ type: MessageType.Request, codec: CodecId.Json, requestId: i + 1, body: routeBody('echo', Buffer.alloc(0), Buffer.from('{not json')) }),
    );
    p.socket.write(Buffer.concat(garbage));
    await until(() => p.frames.filter((f) => f.type === MessageType.Error).length === 100);
    const errors = p.frames.filter((f) => f.type === MessageType.Error);
    expect(errors).toHaveLength(100);
    expect(JSON.parse(errors[99].body.toString())).toMatchObject({ name: 'FrameDecodeError', code: 'ERR_FRAME_DECODE' });
    // Framing is intact: a good request on the same connection is answered.
    p.socket.write(rawFrame({ type: MessageType.Request, requestId: 1000, body: routeBody('echo', Buffer.alloc(0), Buffer.from('"ok"')) }));
    await until(() => p.frames.some((f) => f.requestId === 1000));
    expect(p.frames.find((f) => f.requestId === 1000)?.type).toBe(MessageType.End);
    const warnings = logger.about(p.address, 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/FrameDecodeError/);
    expect(logger.about(p.address, 'debug').filter((l) => l.includes('FrameDecodeError'))).toHaveLength(99);
  });

  it('a client sending server-only frames is closed with a ProtocolError, logged once', async () => {
    const { server, logger } = await start();
    for (const type of [MessageType.Response, MessageType.End, MessageType.Error, MessageType.GoAway]) {
      const p = await open(server.port);
      p.socket.write(rawFrame({ type, requestId: 7, body: Buffer.from('{"reason":"x"}') }));
      await p.closed;
      await until(() => logger.about(p.address, 'warn').length > 0);
      const warnings = logger.about(p.address, 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`ProtocolError: .*client sent a ${MessageType[type]} frame`));
    }
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('events for unknown patterns: one warning per connection, not one error per event (Nest would log each)', async () => {
    const { server, logger } = await start();
    const p = await open(server.port);
    const events = Array.from({ length: 50 }, (_, i) =>
      rawFrame({ type: MessageType.Event, body: routeBody(`nobody.listens.${i}`, Buffer.alloc(0), Buffer.from('1')) }),
    );
    p.socket.write(Buffer.concat([...events, rawFrame({ type: MessageType.Ping, requestId: 5 })]));
    await until(() => p.frames.some((f) => f.type === MessageType.Pong));
    expect(logger.about(p.address, 'warn')).toEqual([expect.stringMatching(/event for unknown pattern "nobody\.listens\.0"/)]);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('peer text in a warning is quoted and cut short (no forged log lines, no megabyte lines)', async () => {
    const { server, logger } = await start();
    const p = await open(server.port);
    const key = `\n[ERROR] forged line \u001b[31m${'k'.repeat(100_000)}`;
    const metadata = Buffer.from(JSON.stringify({ [key]: 1 }));
    p.socket.write(rawFrame({ type: MessageType.Request, requestId: 1, body: routeBody('echo', metadata, Buffer.from('1')) }));
    await until(() => logger.about(p.address, 'warn').length > 0);
    const [warning] = logger.about(p.address, 'warn');
    expect(warning).toMatch(/FrameDecodeError: Metadata value for "\\n\[ERROR\] forged line \\u001b\[31mk+\.\.\." is not a string/);
    expect(warning).not.toContain('\n');
    expect(warning).not.toContain('\u001b');
    expect(warning.length).toBeLessThan(400);
  });

  it('a fatal framing error after bad frames is still one warning for the connection', async () => {
    const { server, logger } = await start();
    const p = await open(server.port);
    p.socket.write(rawFrame({ type: MessageType.Request, requestId: 1, body: Buffer.from([0, 99]) }));
    p.socket.write(rawFrame({ type: MessageType.Request, requestId: 2, magic: 0xdeadbeef }));
    await p.closed;
    await until(() => logger.about(p.address, 'debug').some((l) => l.includes('Bad magic')));
    expect(logger.about(p.address, 'warn')).toHaveLength(1);
    expect(logger.about(p.address, 'debug').some((l) => /connection closed: FrameDecodeError: Bad magic/.test(l))).toBe(true);
  });
});
