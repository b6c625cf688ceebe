import { beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createGzip, gzipSync } from 'node:zlib';
import { EncodeError, FrameDecodeError, FrameTooLargeError, MsRpcError } from '../../../lib/errors/index.js';
import { FrameDecoder } from '../../../lib/protocol/frame-decoder.js';
import { encodeFrame } from '../../../lib/protocol/frame-encoder.js';
import { CodecId, CompressionId, Frame, HEADER_SIZE, MessageType } from '../../../lib/protocol/frame-header.js';
import { GzipCompressor } from '../../../lib/protocol/gzip-compressor.js';
import { MsgPackSerializer } from '../../../lib/protocol/msgpack-serializer.js';
import { SerializerName } from '../../../lib/protocol/serializer.js';
import { codecWith, frameOf, thrownBy } from './protocol-test-helpers.js';

const MiB = 1024 * 1024;

function frameWith(type: MessageType, body: Buffer, codec = CodecId.Json, compression = CompressionId.None): Frame {
  return { type, codec, compression, requestId: 1, body };
}

/** A Request/Event body with whatever lengths the test wants to claim. */
function routeBody(opts: { patternLength?: number; pattern?: string; metaLength?: number; meta?: Buffer; data?: Buffer }): Buffer {
  const pattern = Buffer.from(opts.pattern ?? 'p');
  const meta = opts.meta ?? Buffer.alloc(0);
  const data = opts.data ?? Buffer.from('1');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(opts.patternLength ?? pattern.length);
  const metaHead = Buffer.alloc(4);
  metaHead.writeUInt32BE(opts.metaLength ?? meta.length);
  return Buffer.concat([head, pattern, metaHead, meta, data]);
}

function expectTyped<T extends MsRpcError>(err: unknown, cls: new (...args: never[]) => T, code: string, message?: RegExp): T {
  expect(err).toBeInstanceOf(cls);
  expect((err as T).code).toBe(code);
  if (message) expect((err as T).message).toMatch(message);
  return err as T;
}

const decodeError = (err: unknown, message?: RegExp) => expectTyped(err, FrameDecodeError, 'ERR_FRAME_DECODE', message);
const tooLarge = (err: unknown, message?: RegExp) => expectTyped(err, FrameTooLargeError, 'ERR_FRAME_TOO_LARGE', message);

/** gzip of `total` zero bytes, built from one reused 1 MiB chunk so the test itself stays small. */
async function zeroBomb(total: number): Promise<Buffer> {
  const gz = createGzip();
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  const zeros = Buffer.alloc(MiB);
  for (let written = 0; written < total; written += MiB) {
    if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

describe('MessageCodec limits: pattern length', () => {
  it('refuses to encode a pattern longer than maxPatternLength UTF-8 bytes', () => {
    const codec = codecWith({ maxPatternLength: 16 });
    expect(() => codec.encode({ type: MessageType.Event, pattern: 'a'.repeat(16), data: 1 })).not.toThrow();
    for (const pattern of ['a'.repeat(17), 'é'.repeat(9) /* 9 chars, 18 bytes */]) {
      for (const type of [MessageType.Request, MessageType.Event] as const) {
        const err = tooLarge(thrownBy(() => codec.encode({ type, requestId: 1, pattern, data: 1 })), /Pattern/);
        expect(err.size).toBe(Buffer.byteLength(pattern));
        expect(err.limit).toBe(16);
      }
    }
  });

  it('refuses to decode a pattern longer than maxPatternLength', () => {
    const wire = codecWith().encode({ type: MessageType.Request, requestId: 1, pattern: 'x'.repeat(100), data: 1 });
    const err = tooLarge(thrownBy(() => codecWith({ maxPatternLength: 99 }).decode(frameOf(wire))), /Pattern/);
    expect(err.size).toBe(100);
    expect(err.limit).toBe(99);
    expect(codecWith({ maxPatternLength: 100 }).decode(frameOf(wire))).toMatchObject({ pattern: 'x'.repeat(100) });
  });
});

describe('MessageCodec limits: frame and body size', () => {
  it('throws FrameTooLargeError from encode (nothing to send) when the frame exceeds maxFrameSize', () => {
    const codec = codecWith({ maxFrameSize: 128 });
    const ok = codec.encode({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(110) }); // 112 + 16
    expect(ok).toHaveLength(128);
    const err = tooLarge(
      thrownBy(() => codec.encode({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(111) })),
      /Outgoing frame of 129 bytes exceeds the limit of 128/,
    );
    expect(err.size).toBe(129);
    expect(err.limit).toBe(128);
    for (const msg of [
      { type: MessageType.Request, requestId: 1, pattern: 'p', data: 'a'.repeat(200) },
      { type: MessageType.Event, pattern: 'p', data: 'a'.repeat(200) },
      { type: MessageType.End, requestId: 1, hasData: true, data: 'a'.repeat(200) },
      { type: MessageType.Error, requestId: 1, error: new Error('a'.repeat(200)) },
      { type: MessageType.GoAway, reason: 'a'.repeat(200) },
    ] as const) {
      tooLarge(thrownBy(() => codec.encode(msg)));
    }
  });

  it('lets compression bring a large compressible body under maxFrameSize', () => {
    const codec = codecWith({ maxFrameSize: 1024, compression: 'gzip', compressThreshold: 0 });
    const message = { type: MessageType.Response, requestId: 1, data: 'a'.repeat(100_000) } as const;
    const wire = codec.encode(message);
    expect(wire.length).toBeLessThanOrEqual(1024);
    expect(codec.decode(frameOf(wire))).toEqual(message);
    // Incompressible data of the same size cannot fit.
    tooLarge(thrownBy(() => codec.encode({ type: MessageType.Response, requestId: 1, data: randomBytes(2000).toString('base64') })));
  });

  it('refuses to encode a body its own maxBodySize would refuse to decode (compressed or not)', () => {
    const plain = codecWith({ maxBodySize: 1024 });
    const fits = { type: MessageType.Response, requestId: 1, data: 'a'.repeat(1022) } as const; // 1024-byte body
    expect(plain.decode(frameOf(plain.encode(fits)))).toEqual(fits);
    const err = tooLarge(thrownBy(() => plain.encode({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(1023) })), /body/);
    expect(err.size).toBe(1025);
    expect(err.limit).toBe(1024);

    // With gzip the frame would be tiny, but the peer would inflate past its cap.
    const gzip = codecWith({ maxBodySize: 64 * 1024, compression: 'gzip', compressThreshold: 0 });
    tooLarge(thrownBy(() => gzip.encode({ type: MessageType.Event, pattern: 'bulk', data: 'a'.repeat(100_000) })));
  });

  it('refuses an uncompressed body above maxBodySize on decode', () => {
    const wire = codecWith().encode({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(2000) });
    const err = tooLarge(thrownBy(() => codecWith({ maxBodySize: 1024 }).decode(frameOf(wire))), /Body/);
    expect(err.size).toBe(2002);
    expect(err.limit).toBe(1024);
  });

  it('caps inflation at exactly maxBodySize', () => {
    const sender = codecWith({ compression: 'gzip', compressThreshold: 0 });
    const receiver = codecWith({ maxBodySize: 4096 });
    const exact = { type: MessageType.Response, requestId: 1, data: 'a'.repeat(4094) } as const; // 4096 bytes
    const exactFrame = frameOf(sender.encode(exact));
    expect(exactFrame.compression).toBe(CompressionId.Gzip);
    expect(receiver.decode(exactFrame)).toEqual(exact);
    const over = frameOf(sender.encode({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(4095) }));
    expect(over.compression).toBe(CompressionId.Gzip);
    tooLarge(thrownBy(() => receiver.decode(over)), /Inflated body/);
  });
});

describe('MessageCodec limits: gzip bomb', () => {
  let bomb: Buffer;
  beforeAll(async () => {
    bomb = await zeroBomb(64 * MiB);
  });

  it('is small on the wire', () => {
    expect(bomb.length).toBeLessThan(128 * 1024);
  });

  it.each(['json', 'msgpack'] as SerializerName[])(
    'fails fast with FrameTooLargeError and never allocates the inflated size (%s)',
    (name) => {
      const codec = codecWith({ codec: name, maxBodySize: MiB });
      const codecId = name === 'json' ? CodecId.Json : CodecId.MsgPack;
      for (const type of [MessageType.Response, MessageType.Request]) {
        const wire = encodeFrame(type, codecId, CompressionId.Gzip, 1, bomb, codec.maxFrameSize);
        // Through the streaming decoder, as it would arrive from a socket.
        const frames: Frame[] = [];
        new FrameDecoder(codec.maxFrameSize).push(wire, (f) => frames.push(f));
        expect(frames).toHaveLength(1);

        const before = process.memoryUsage();
        const started = process.hrtime.bigint();
        const err = tooLarge(thrownBy(() => codec.decode(frames[0])), /Inflated body/);
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
        const after = process.memoryUsage();

        expect(err.limit).toBe(MiB);
        expect(err.size).toBeGreaterThan(MiB);
        expect(elapsedMs).toBeLessThan(1000);
        // Inflating would cost 64 MiB; the cap bounds it to ~1 MiB (garbage not yet collected).
        expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(16 * MiB);
        expect(after.rss - before.rss).toBeLessThan(48 * MiB);
      }
    },
  );

  it('GzipCompressor stops at maxOutput itself', () => {
    const gzip = new GzipCompressor();
    tooLarge(thrownBy(() => gzip.decompress(bomb, 4096)));
    expect(gzip.decompress(gzipSync(Buffer.alloc(4096)), 4096)).toHaveLength(4096);
  });
});

describe('MessageCodec: corrupt and malformed bodies', () => {
  const codec = codecWith();
  const gz = (s: string) => gzipSync(Buffer.from(s));

  it('corrupt gzip → FrameDecodeError with the zlib error as cause', () => {
    const good = gz(JSON.stringify({ hello: 'world'.repeat(50) }));
    const flipped = Buffer.from(good);
    flipped[Math.floor(good.length / 2)] ^= 0xff;
    const badCrc = Buffer.from(good);
    badCrc[badCrc.length - 6] ^= 0x01; // CRC32 trailer
    for (const body of [flipped, badCrc, good.subarray(0, good.length - 3), good.subarray(0, 5), Buffer.alloc(0), Buffer.from('{"plain":"json"}')]) {
      const err = decodeError(thrownBy(() => codec.decode(frameWith(MessageType.Response, body, CodecId.Json, CompressionId.Gzip))), /gzip/);
      // zlib errors come from Node's realm, not jest's: check the shape, not instanceof.
      expect((err.cause as { code?: string }).code).toMatch(/^Z_/);
    }
  });

  it('malformed JSON → FrameDecodeError with the SyntaxError as cause', () => {
    for (const text of ['{', '{"a":}', 'undefined', "{'a':1}", '1 2', '\u0000', '[1,]']) {
      const err = decodeError(thrownBy(() => codec.decode(frameWith(MessageType.Response, Buffer.from(text)))), /Malformed json response/);
      expect(err.cause).toBeInstanceOf(SyntaxError);
    }
    const compressed = frameWith(MessageType.End, gz('{oops'), CodecId.Json, CompressionId.Gzip);
    expect(decodeError(thrownBy(() => codec.decode(compressed))).cause).toBeInstanceOf(SyntaxError);
  });

  it('malformed msgpack → FrameDecodeError with a cause', () => {
    const bodies = [
      Buffer.from([0xc4, 0x05, 0x00]), // bin8 of 5 bytes, 1 present
      Buffer.from([0xd9, 0x10, 0x61]), // str8 of 16 bytes, 1 present
      Buffer.from([0x92, 0x01]), // array of 2, 1 present
      Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4G elements, none present
      Buffer.from([0x01, 0x02]), // trailing bytes after a value
      Buffer.alloc(100_000, 0x91), // 100k nested arrays: deep recursion
    ];
    for (const body of bodies) {
      const err = decodeError(thrownBy(() => codec.decode(frameWith(MessageType.Response, body, CodecId.MsgPack))), /msgpack/);
      expect(err.cause).toBeDefined();
    }
  });

  it('deeply nested JSON is an error or a value, never a crash', () => {
    const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(200_000));
    try {
      codec.decode(frameWith(MessageType.Response, deep));
    } catch (err) {
      decodeError(err);
    }
  });

  it('Error/Response/End with an empty body decode as "no value"', () => {
    expect(codec.decode(frameWith(MessageType.Error, Buffer.alloc(0)))).toEqual({ type: MessageType.Error, requestId: 1, error: undefined });
    expect(codec.decode(frameWith(MessageType.Response, Buffer.alloc(0)))).toEqual({ type: MessageType.Response, requestId: 1, data: undefined });
  });

  it('ignores a stray body on Ping/Pong/Cancel', () => {
    expect(codec.decode(frameWith(MessageType.Ping, Buffer.from('junk')))).toEqual({ type: MessageType.Ping, requestId: 1 });
  });

  it('rejects header ids that bypassed the FrameDecoder', () => {
    decodeError(thrownBy(() => codec.decode({ ...frameWith(MessageType.Response, Buffer.from('1')), codec: 9 as CodecId })), /codec id 9/);
    decodeError(thrownBy(() => codec.decode({ ...frameWith(MessageType.Response, Buffer.from('1')), compression: 7 as CompressionId })), /compression id 7/);
    decodeError(thrownBy(() => codec.decode({ ...frameWith(MessageType.Response, Buffer.from('1')), type: 0 as MessageType })), /message type 0/);
  });
});

describe.each(['json', 'msgpack'] as SerializerName[])('MessageCodec: lying route lengths (%s)', (name) => {
  const codec = codecWith({ codec: name });
  const codecId = name === 'json' ? CodecId.Json : CodecId.MsgPack;
  const meta = (v: unknown) => (name === 'json' ? Buffer.from(JSON.stringify(v)) : new MsgPackSerializer().serialize(v));
  const decodeRoute = (body: Buffer, type: MessageType.Request | MessageType.Event = MessageType.Request) =>
    codec.decode(frameWith(type, body, codecId));

  it('a well-formed hand-built route decodes (sanity check of the builder)', () => {
    expect(decodeRoute(routeBody({ pattern: 'sum', meta: meta({ a: 'b' }), data: meta([1, 2]) }))).toEqual({
      type: MessageType.Request,
      requestId: 1,
      pattern: 'sum',
      metadata: { a: 'b' },
      data: [1, 2],
    });
  });

  it('a body shorter than the route prefix', () => {
    for (let n = 0; n < 6; n++) {
      for (const type of [MessageType.Request, MessageType.Event] as const) {
        decodeError(thrownBy(() => decodeRoute(Buffer.alloc(n), type)), /too short/);
      }
    }
  });

  it('a pattern length running past the body', () => {
    decodeError(thrownBy(() => decodeRoute(routeBody({ pattern: 'abc', patternLength: 500, data: Buffer.alloc(0) }))), /Pattern length/);
    // Pattern fits but leaves no room for the metadata length.
    decodeError(thrownBy(() => decodeRoute(Buffer.from([0, 3, 0x61, 0x62, 0x63, 0, 0, 0]))), /Pattern length/);
  });

  it('a metadata length running past the body', () => {
    for (const metaLength of [1, 100, 0x7fffffff, 0xffffffff]) {
      decodeError(thrownBy(() => decodeRoute(routeBody({ metaLength, data: Buffer.alloc(0) }))), /Metadata length/);
    }
    // Claims one byte more than there is.
    const m = meta({ a: 'b' });
    decodeError(thrownBy(() => decodeRoute(routeBody({ meta: m, metaLength: m.length + 1, data: Buffer.alloc(0) }))), /Metadata length/);
  });

  it('a metadata length that cuts the metadata short (the rest spills into data)', () => {
    const m = meta({ key: 'value' });
    decodeError(thrownBy(() => decodeRoute(routeBody({ meta: m, metaLength: m.length - 2 }))));
  });

  it('metadata that is not a string map', () => {
    for (const bad of [{ n: 1 }, { a: 'ok', b: null }, { nested: { x: 'y' } }, { list: ['a'] }, ['a', 'b'], 'str', 5, null, true]) {
      decodeError(thrownBy(() => decodeRoute(routeBody({ meta: meta(bad) }))), /Metadata/);
    }
  });

  it('metadata bytes that are not valid in the codec → FrameDecodeError with cause', () => {
    const err = decodeError(thrownBy(() => decodeRoute(routeBody({ meta: Buffer.from([0xc1, 0x7b]) }))), /metadata/);
    expect(err.cause).toBeDefined();
  });

  it('a malformed payload after valid metadata → FrameDecodeError with cause', () => {
    const err = decodeError(thrownBy(() => decodeRoute(routeBody({ meta: meta({ a: 'b' }), data: Buffer.from([0xc1, 0x7b]) }))), /payload/);
    expect(err.cause).toBeDefined();
  });
});

describe.each(['json', 'msgpack'] as SerializerName[])('MessageCodec: malformed Hello (%s)', (name) => {
  const codec = codecWith({ codec: name });
  const codecId = name === 'json' ? CodecId.Json : CodecId.MsgPack;
  const enc = (v: unknown) => (name === 'json' ? Buffer.from(JSON.stringify(v)) : new MsgPackSerializer().serialize(v));

  it.each([
    ['empty body', Buffer.alloc(0)],
    ['null', enc(null)],
    ['a string', enc('hello')],
    ['a number', enc(1)],
    ['an array', enc([30000, 65536])],
    ['missing idleTimeoutMs', enc({ maxFrameSize: 65536 })],
    ['missing maxFrameSize', enc({ idleTimeoutMs: 1000 })],
    ['negative idleTimeoutMs', enc({ idleTimeoutMs: -1, maxFrameSize: 65536 })],
    ['fractional idleTimeoutMs', enc({ idleTimeoutMs: 1.5, maxFrameSize: 65536 })],
    ['string idleTimeoutMs', enc({ idleTimeoutMs: '1000', maxFrameSize: 65536 })],
    ['maxFrameSize below the header size', enc({ idleTimeoutMs: 0, maxFrameSize: 15 })],
    ['non-finite maxFrameSize', enc({ idleTimeoutMs: 0, maxFrameSize: null })],
  ])('%s', (_, body) => {
    decodeError(thrownBy(() => codec.decode(frameWith(MessageType.Hello, body, codecId))), /hello/i);
  });

  it('malformed bytes carry a cause', () => {
    const err = decodeError(thrownBy(() => codec.decode(frameWith(MessageType.Hello, Buffer.from([0xc1, 0x7b]), codecId))));
    expect(err.cause).toBeDefined();
  });

  it('extra fields are dropped', () => {
    const out = codec.decode(frameWith(MessageType.Hello, enc({ idleTimeoutMs: 5, maxFrameSize: HEADER_SIZE, extra: 'x' }), codecId));
    expect(out).toEqual({ type: MessageType.Hello, settings: { idleTimeoutMs: 5, maxFrameSize: HEADER_SIZE } });
  });
});

describe('values the codec cannot serialize', () => {
  it('throw a typed EncodeError (cause: the serializer error) for every message kind that carries a value', () => {
    const codec = codecWith({});
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const messages = [
      { type: MessageType.Request as const, requestId: 1, pattern: 'p', data: { n: 1n } },
      { type: MessageType.Event as const, pattern: 'p', data: circular },
      { type: MessageType.Response as const, requestId: 1, data: 2n },
      { type: MessageType.End as const, requestId: 1, hasData: true, data: { big: 3n } },
    ];
    for (const message of messages) {
      const error = thrownBy(() => codec.encode(message, CodecId.Json));
      expect(error).toBeInstanceOf(EncodeError);
      expect(error).toMatchObject({ code: 'ERR_ENCODE' });
      expect((error as Error).message).toMatch(new RegExp(`^${MessageType[message.type]} cannot be encoded with json: `));
      expect((error as Error).cause).toBeInstanceOf(TypeError);
    }
    // Limits keep their own typed error.
    expect(thrownBy(() => codecWith({ maxBodySize: 64 }).encode({ type: MessageType.Response, requestId: 1, data: 'x'.repeat(100) }))).toBeInstanceOf(FrameTooLargeError);
  });
});
