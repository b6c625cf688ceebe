import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { FrameDecodeError, FrameTooLargeError, MsRpcError } from '../../../lib/errors/index.js';
import { FrameDecoder } from '../../../lib/protocol/frame-decoder.js';
import { encodeFrame } from '../../../lib/protocol/frame-encoder.js';
import {
  CodecId,
  CompressionId,
  Frame,
  HEADER_SIZE,
  MAGIC,
  MessageType,
  PROTOCOL_VERSION,
  isCodecId,
  isCompressionId,
  isMessageType,
  writeHeader,
} from '../../../lib/protocol/frame-header.js';
import { decodeAll, rawFrame, snapshot, splitAt, thrownBy } from './protocol-test-helpers.js';

const MAX = 1 << 20;

function frame(type: MessageType, requestId: number, body: Buffer | string, codec = CodecId.Json): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return encodeFrame(type, codec, CompressionId.None, requestId, b, MAX);
}

function expectFrame(f: Frame, type: MessageType, requestId: number, body: Buffer | string): void {
  expect(f.type).toBe(type);
  expect(f.codec).toBe(CodecId.Json);
  expect(f.compression).toBe(CompressionId.None);
  expect(f.requestId).toBe(requestId);
  expect(Buffer.from(f.body).equals(typeof body === 'string' ? Buffer.from(body) : body)).toBe(true);
}

/** Pushes one chunk and returns the error it threw plus the frames delivered before it. */
function pushExpectingError(decoder: FrameDecoder, chunk: Buffer): { err: unknown; frames: Frame[] } {
  const frames: Frame[] = [];
  const err = thrownBy(() => decoder.push(chunk, (f) => frames.push(snapshot(f))));
  return { err, frames };
}

describe('frame header', () => {
  it('lays out the 16 bytes exactly as documented (big-endian)', () => {
    const buf = Buffer.alloc(HEADER_SIZE + 2, 0xee);
    writeHeader(buf, 1, MessageType.Error, CodecId.MsgPack, CompressionId.Gzip, 0xdeadbeef, 1);
    expect(buf[0]).toBe(0xee); // writes at the offset, not at 0
    expect(buf.toString('latin1', 1, 5)).toBe('msnb');
    expect(buf.readUInt32BE(1)).toBe(MAGIC);
    expect(buf[5]).toBe(PROTOCOL_VERSION);
    expect(buf.readUInt32BE(6)).toBe(HEADER_SIZE + 1);
    expect(buf[10]).toBe(MessageType.Error);
    expect(buf[11]).toBe(CodecId.MsgPack);
    expect(buf[12]).toBe(CompressionId.Gzip);
    expect(buf.readUInt32BE(13)).toBe(0xdeadbeef);
    expect(buf[17]).toBe(0xee); // body byte untouched
  });

  it('keeps wire constants stable', () => {
    expect(HEADER_SIZE).toBe(16);
    expect(PROTOCOL_VERSION).toBe(1);
    expect([
      MessageType.Request,
      MessageType.Response,
      MessageType.End,
      MessageType.Error,
      MessageType.Event,
      MessageType.Ping,
      MessageType.Pong,
      MessageType.Cancel,
      MessageType.GoAway,
      MessageType.Hello,
    ]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([CodecId.Json, CodecId.MsgPack]).toEqual([1, 2]);
    expect([CompressionId.None, CompressionId.Gzip]).toEqual([0, 1]);
  });

  it('type guards accept exactly the enum values', () => {
    for (let v = 0; v < 256; v++) {
      expect(isMessageType(v)).toBe(v >= 1 && v <= 11);
      expect(isCodecId(v)).toBe(v === 1 || v === 2);
      expect(isCompressionId(v)).toBe(v === 0 || v === 1);
    }
  });

  it('stores request ids as uint32 (0 and 2^32-1 included)', () => {
    for (const id of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const [f] = decodeAll([frame(MessageType.Response, id, 'x')]);
      expect(f.requestId).toBe(id);
    }
  });

  it('encodeFrame accepts a missing body and a frame of exactly maxFrameSize', () => {
    expect(encodeFrame(MessageType.Ping, CodecId.Json, CompressionId.None, 7, undefined, 64)).toHaveLength(HEADER_SIZE);
    expect(encodeFrame(MessageType.Response, CodecId.Json, CompressionId.None, 7, Buffer.alloc(48), 64)).toHaveLength(64);
    const err = thrownBy(() =>
      encodeFrame(MessageType.Response, CodecId.Json, CompressionId.None, 7, Buffer.alloc(49), 64),
    ) as FrameTooLargeError;
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect(err.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(err.size).toBe(65);
    expect(err.limit).toBe(64);
  });
});

describe('FrameDecoder: malformed headers', () => {
  const cases: { name: string; header: Parameters<typeof rawFrame>[0]; cls: typeof FrameDecodeError | typeof FrameTooLargeError; code: string; msg: RegExp }[] = [
    { name: 'wrong magic', header: { magic: 0x4d534e42 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /magic 0x4d534e42/ },
    { name: 'HTTP instead of frames', header: { magic: 0x47455420 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /magic/ },
    { name: 'unknown version 0', header: { version: 0 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /version 0/ },
    { name: 'unknown version 2', header: { version: 2 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /version 2/ },
    { name: 'length 0', header: { length: 0 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /length 0 .*header size 16/ },
    { name: 'length 15', header: { length: 15 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /length 15/ },
    { name: 'length > maxFrameSize', header: { length: MAX + 1 }, cls: FrameTooLargeError, code: 'ERR_FRAME_TOO_LARGE', msg: /exceeds/ },
    { name: 'unknown type 0', header: { type: 0 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /message type 0/ },
    { name: 'unknown type 12', header: { type: 12 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /message type 12/ },
    { name: 'unknown type 255', header: { type: 255 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /message type 255/ },
    { name: 'unknown codec 0', header: { codec: 0 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /codec id 0/ },
    { name: 'unknown codec 3', header: { codec: 3 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /codec id 3/ },
    { name: 'unknown compression 2', header: { compression: 2 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /compression id 2/ },
    { name: 'unknown compression 255', header: { compression: 255 }, cls: FrameDecodeError, code: 'ERR_FRAME_DECODE', msg: /compression id 255/ },
  ];

  it.each(cases)('$name → $cls.name ($code)', ({ header, cls, code, msg }) => {
    const decoder = new FrameDecoder(MAX);
    const { err, frames } = pushExpectingError(decoder, rawFrame(header, Buffer.from('{}')));
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(MsRpcError);
    expect((err as MsRpcError).code).toBe(code);
    expect((err as Error).message).toMatch(msg);
    expect(frames).toHaveLength(0);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects a 4 GiB announcement from the 16 header bytes alone and buffers nothing', () => {
    const decoder = new FrameDecoder(8 * 1024 * 1024);
    const header = rawFrame({ length: 0xffffffff }).subarray(0, HEADER_SIZE);
    expect(header).toHaveLength(HEADER_SIZE);
    const { err, frames } = pushExpectingError(decoder, header);
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect((err as FrameTooLargeError).code).toBe('ERR_FRAME_TOO_LARGE');
    expect((err as FrameTooLargeError).size).toBe(0xffffffff);
    expect((err as FrameTooLargeError).limit).toBe(8 * 1024 * 1024);
    expect(frames).toHaveLength(0);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects an oversized header that arrives in pieces as soon as its 16th byte arrives', () => {
    const decoder = new FrameDecoder(1024);
    const header = rawFrame({ length: 1025 }).subarray(0, HEADER_SIZE);
    for (let i = 0; i < HEADER_SIZE - 1; i++) {
      decoder.push(header.subarray(i, i + 1), () => undefined);
      expect(decoder.bufferedBytes).toBe(i + 1);
    }
    const { err } = pushExpectingError(decoder, header.subarray(HEADER_SIZE - 1));
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('accepts a frame of exactly maxFrameSize and a zero-length body at the minimum length 16', () => {
    const exact = frame(MessageType.Response, 1, Buffer.alloc(64 - HEADER_SIZE, 7));
    expect(decodeAll([exact], 64)).toHaveLength(1);
    const [empty] = decodeAll([frame(MessageType.Ping, 9, Buffer.alloc(0))]);
    expect(empty.type).toBe(MessageType.Ping);
    expect(empty.requestId).toBe(9);
    expect(empty.body).toHaveLength(0);
  });

  it('checks the length before type/codec/compression (a huge garbage header is "too large")', () => {
    const decoder = new FrameDecoder(MAX);
    const { err } = pushExpectingError(decoder, rawFrame({ length: MAX + 1, type: 99, codec: 99, compression: 99 }));
    expect(err).toBeInstanceOf(FrameTooLargeError);
  });
});

describe('FrameDecoder: failure is final', () => {
  it('delivers frames completed earlier in the same chunk before throwing', () => {
    const decoder = new FrameDecoder(MAX);
    const chunk = Buffer.concat([
      frame(MessageType.Response, 1, 'one'),
      frame(MessageType.End, 1, ''),
      rawFrame({ type: 42 }, Buffer.from('bad')),
      frame(MessageType.Response, 2, 'never'),
    ]);
    const { err, frames } = pushExpectingError(decoder, chunk);
    expect(err).toBeInstanceOf(FrameDecodeError);
    expect(frames).toHaveLength(2);
    expectFrame(frames[0], MessageType.Response, 1, 'one');
    expectFrame(frames[1], MessageType.End, 1, '');
  });

  it('delivers a frame completed from buffered bytes before the bad one that follows', () => {
    const decoder = new FrameDecoder(MAX);
    const good = frame(MessageType.Response, 5, 'hello');
    const frames: Frame[] = [];
    decoder.push(good.subarray(0, 10), (f) => frames.push(snapshot(f)));
    const err = thrownBy(() =>
      decoder.push(Buffer.concat([good.subarray(10), rawFrame({ magic: 0 })]), (f) => frames.push(snapshot(f))),
    );
    expect(err).toBeInstanceOf(FrameDecodeError);
    expect(frames).toHaveLength(1);
    expectFrame(frames[0], MessageType.Response, 5, 'hello');
  });

  it('stays failed: every later push (even empty or valid) rethrows the same error and delivers nothing', () => {
    const decoder = new FrameDecoder(MAX);
    const partial = frame(MessageType.Response, 1, 'partial');
    decoder.push(partial.subarray(0, 20), () => undefined);
    const { err, frames } = pushExpectingError(decoder, Buffer.concat([partial.subarray(20), rawFrame({ version: 9 })]));
    expect(err).toBeInstanceOf(FrameDecodeError);
    expect(frames).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
    const onFrame = jest.fn();
    expect(() => decoder.push(frame(MessageType.Response, 2, 'ok'), onFrame)).toThrow(err as Error);
    expect(() => decoder.push(Buffer.alloc(0), onFrame)).toThrow(err as Error);
    expect(() => decoder.push(rawFrame(), onFrame)).toThrow(err as Error);
    expect(onFrame).not.toHaveBeenCalled();
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('reset() drops buffered bytes and refuses further input', () => {
    const decoder = new FrameDecoder(MAX);
    decoder.push(frame(MessageType.Response, 1, 'abcdef').subarray(0, 19), () => undefined);
    expect(decoder.bufferedBytes).toBe(19);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    const err = thrownBy(() => decoder.push(frame(MessageType.Ping, 0, ''), () => undefined));
    expect(err).toBeInstanceOf(FrameDecodeError);
    expect((err as Error).message).toMatch(/closed/);

    const custom = new Error('socket gone');
    const d2 = new FrameDecoder(MAX);
    d2.reset(custom);
    expect(() => d2.push(Buffer.from([1]), () => undefined)).toThrow(custom);
  });

  it('an exception from onFrame propagates and poisons the decoder (the stream position is lost)', () => {
    const decoder = new FrameDecoder(MAX);
    const boom = new Error('consumer failed');
    const both = Buffer.concat([frame(MessageType.Response, 1, 'a'), frame(MessageType.Response, 2, 'b')]);
    const seen: number[] = [];
    expect(() =>
      decoder.push(both, (f) => {
        seen.push(f.requestId);
        throw boom;
      }),
    ).toThrow(boom);
    expect(seen).toEqual([1]);
    expect(() => decoder.push(frame(MessageType.Ping, 0, ''), () => undefined)).toThrow(boom);
  });
});

describe('FrameDecoder: arbitrary splits', () => {
  const stream = Buffer.concat([
    frame(MessageType.Request, 1, 'req-body'),
    frame(MessageType.Ping, 0, ''),
    frame(MessageType.Response, 0xffffffff, Buffer.from([0, 1, 2, 255])),
    frame(MessageType.End, 3, ''),
  ]);
  const expected = (frames: Frame[]) => {
    expect(frames).toHaveLength(4);
    expectFrame(frames[0], MessageType.Request, 1, 'req-body');
    expectFrame(frames[1], MessageType.Ping, 0, '');
    expectFrame(frames[2], MessageType.Response, 0xffffffff, Buffer.from([0, 1, 2, 255]));
    expectFrame(frames[3], MessageType.End, 3, '');
  };

  it('decodes the same frames whatever single byte boundary the stream is cut at', () => {
    for (let i = 0; i <= stream.length; i++) expected(decodeAll(splitAt(stream, [i])));
  });

  it('decodes the same frames for every pair of cut points (cuts inside headers included)', () => {
    // A cheap fingerprint instead of ~3000 rounds of expect() calls keeps this fast.
    const print = (frames: Frame[]) =>
      frames.map((f) => `${f.type}/${f.codec}/${f.compression}/${f.requestId}/${f.body.toString('hex')}`).join('|');
    const reference = print(decodeAll([stream]));
    expected(decodeAll([stream]));
    const mismatches: number[][] = [];
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        if (print(decodeAll(splitAt(stream, [i, j]))) !== reference) mismatches.push([i, j]);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('decodes a stream fed one byte at a time', () => {
    expected(decodeAll(splitAt(stream, Array.from({ length: stream.length }, (_, i) => i))));
  });

  it('decodes many frames packed into one chunk, in order', () => {
    const frames = Array.from({ length: 500 }, (_, i) => frame(MessageType.Response, i, `v${i}`));
    const out = decodeAll([Buffer.concat(frames)]);
    expect(out).toHaveLength(500);
    out.forEach((f, i) => expectFrame(f, MessageType.Response, i, `v${i}`));
  });

  it('ignores empty chunks', () => {
    const onFrame = jest.fn();
    const decoder = new FrameDecoder(MAX);
    decoder.push(Buffer.alloc(0), onFrame);
    decoder.push(stream.subarray(0, 3), onFrame);
    decoder.push(Buffer.alloc(0), onFrame);
    expect(decoder.bufferedBytes).toBe(3);
    decoder.push(stream.subarray(3), onFrame);
    expect(onFrame).toHaveBeenCalledTimes(4);
  });
});

describe('FrameDecoder: buffering', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('delivers a body that arrives one byte at a time once, without copying per byte', () => {
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 0xff));
    const whole = frame(MessageType.Response, 77, body);
    const decoder = new FrameDecoder(MAX);
    const frames: Frame[] = [];
    const concat = jest.spyOn(Buffer, 'concat');
    for (let i = 0; i < whole.length; i++) {
      decoder.push(whole.subarray(i, i + 1), (f) => frames.push(snapshot(f)));
      if (i < whole.length - 1) {
        expect(frames).toHaveLength(0);
        expect(decoder.bufferedBytes).toBe(i + 1);
      }
    }
    expect(frames).toHaveLength(1);
    expectFrame(frames[0], MessageType.Response, 77, body);
    expect(decoder.bufferedBytes).toBe(0);
    // One concat to read the header, one for the completed frame: not one per byte.
    expect(concat.mock.calls.length).toBeLessThanOrEqual(2);
  });

  it('accounts bufferedBytes exactly across partial headers, partial bodies and trailing bytes', () => {
    const a = frame(MessageType.Response, 1, 'aaaaaaaaaa'); // 26 bytes
    const b = frame(MessageType.Response, 2, 'bbbb'); // 20 bytes
    const decoder = new FrameDecoder(MAX);
    const frames: Frame[] = [];
    const push = (c: Buffer) => decoder.push(c, (f) => frames.push(snapshot(f)));
    expect(decoder.bufferedBytes).toBe(0);
    push(a.subarray(0, 5)); // partial header
    expect(decoder.bufferedBytes).toBe(5);
    push(a.subarray(5, 16)); // header complete, no body yet
    expect(decoder.bufferedBytes).toBe(16);
    push(a.subarray(16, 20)); // partial body
    expect(decoder.bufferedBytes).toBe(20);
    push(Buffer.concat([a.subarray(20), b.subarray(0, 7)])); // a completes, b starts
    expect(frames).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(7);
    push(b.subarray(7));
    expect(frames).toHaveLength(2);
    expect(decoder.bufferedBytes).toBe(0);
    expectFrame(frames[1], MessageType.Response, 2, 'bbbb');
  });

  it('delivers body views that are not disturbed by later pushes', () => {
    const decoder = new FrameDecoder(MAX);
    const bodies: Buffer[] = [];
    const a = frame(MessageType.Response, 1, 'first');
    const b = frame(MessageType.Response, 2, 'second');
    decoder.push(Buffer.concat([a, b.subarray(0, 18)]), (f) => bodies.push(f.body));
    decoder.push(b.subarray(18), (f) => bodies.push(f.body));
    expect(bodies.map(String)).toEqual(['first', 'second']);
  });
});

describe('FrameDecoder reset by its consumer', () => {
  it('delivers nothing after the frame whose consumer reset it, not even the rest of the same chunk', () => {
    const decoder = new FrameDecoder(MAX);
    const seen: number[] = [];
    const chunk = Buffer.concat([frame(MessageType.Request, 1, 'a'), frame(MessageType.Response, 2, 'b'), frame(MessageType.Request, 3, 'c')]);
    decoder.push(chunk, (f) => {
      seen.push(f.requestId);
      // The consumer closes its connection over what frame 2 said.
      if (f.requestId === 2) decoder.reset(new FrameDecodeError('closed'));
    });
    expect(seen).toEqual([1, 2]);
    expect(decoder.bufferedBytes).toBe(0);
    // The same when the violating frame completes one that straddled chunks.
    const straddling = new FrameDecoder(MAX);
    const seen2: number[] = [];
    const two = frame(MessageType.Response, 2, 'b');
    straddling.push(two.subarray(0, 10), () => undefined);
    straddling.push(Buffer.concat([two.subarray(10), frame(MessageType.Request, 3, 'c')]), (f) => {
      seen2.push(f.requestId);
      straddling.reset();
    });
    expect(seen2).toEqual([2]);
  });
});
