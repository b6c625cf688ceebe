import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { FrameDecoder } from '../../../lib/protocol/frame-decoder.js';
import { encodeFrame } from '../../../lib/protocol/frame-encoder.js';
import { CodecId, CompressionId, Frame, HEADER_SIZE, MessageType } from '../../../lib/protocol/frame-header.js';
import { Message, Metadata } from '../../../lib/protocol/message.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { SerializerName } from '../../../lib/protocol/serializer.js';
import { codecWith, isProtocolError, jsonNormalized, snapshot, splitAt } from './protocol-test-helpers.js';

// fast-check prints the seed and counterexample path on failure; `size: 'max'` on byte arrays
// because the default size keeps generated arrays to a handful of bytes whatever maxLength says.
const RUNS = { numRuns: 500 };

const MESSAGE_TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] as MessageType[];
const CODEC_IDS = [CodecId.Json, CodecId.MsgPack];
const COMPRESSION_IDS = [CompressionId.None, CompressionId.Gzip];

const requestIdArb = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));

const rawFrameArb = fc.record({
  type: fc.constantFrom(...MESSAGE_TYPES),
  codec: fc.constantFrom(...CODEC_IDS),
  compression: fc.constantFrom(...COMPRESSION_IDS),
  requestId: requestIdArb,
  body: fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc.uint8Array({ maxLength: 300, size: 'max' }).map((a) => Buffer.from(a)),
    fc.uint8Array({ minLength: 1000, maxLength: 5000, size: 'max' }).map((a) => Buffer.from(a)),
  ),
});

/** Cut points, later reduced modulo the stream length. */
const cutsArb = fc.array(fc.nat(), { maxLength: 30, size: 'medium' });

/** msgpackr renames a `__proto__` key (prototype-pollution guard) and JSON.parse drops it from a plain object. */
const safeKey = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');
const noProtoKeys = (v: unknown) => !JSON.stringify(v)?.includes('"__proto__"');
const valueArb = fc.jsonValue({ maxDepth: 4 }).filter(noProtoKeys);
const metadataArb = fc.option(fc.dictionary(safeKey, fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 5 }), { nil: undefined });
const patternArb = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));

const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant(MessageType.Request),
    requestId: requestIdArb,
    pattern: patternArb,
    data: valueArb,
    metadata: metadataArb,
    // The caller's remaining budget (a DeadlineRequest frame), or none (an older client's Request).
    budgetMs: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  }),
  fc.record({ type: fc.constant(MessageType.Event), pattern: patternArb, data: valueArb, metadata: metadataArb }),
  fc.record({ type: fc.constant(MessageType.Response), requestId: requestIdArb, data: valueArb }),
  fc.record({ type: fc.constant(MessageType.End), requestId: requestIdArb, hasData: fc.constant(true), data: valueArb }),
  fc.record({ type: fc.constant(MessageType.End), requestId: requestIdArb, hasData: fc.constant(false) }),
  fc.record({ type: fc.constant(MessageType.Error), requestId: requestIdArb, error: valueArb }),
  fc.record({ type: fc.constantFrom(MessageType.Ping, MessageType.Pong, MessageType.Cancel), requestId: requestIdArb }),
  fc.record({ type: fc.constant(MessageType.GoAway), reason: fc.string({ unit: 'binary', maxLength: 40 }) }),
  fc.record({
    type: fc.constant(MessageType.Hello),
    settings: fc.record({ idleTimeoutMs: fc.nat(), maxFrameSize: fc.integer({ min: HEADER_SIZE, max: 0xffffffff }) }),
  }),
) as fc.Arbitrary<Message>;

/** The type a message's frame has on the wire. */
function frameTypeOf(m: Message): MessageType {
  return m.type === MessageType.Request && m.budgetMs !== undefined ? MessageType.DeadlineRequest : m.type;
}

/** What the peer should see: -0 becomes 0, empty metadata disappears. */
function expectedOf(m: Message): Message {
  switch (m.type) {
    case MessageType.Request:
    case MessageType.Event: {
      const { metadata, ...rest } = m;
      const out = { ...rest, data: jsonNormalized(m.data) } as Message & { metadata?: Metadata };
      if (metadata && Object.keys(metadata).length > 0) out.metadata = { ...metadata };
      return out;
    }
    case MessageType.Response:
      return { ...m, data: jsonNormalized(m.data) };
    case MessageType.End:
      return m.hasData ? { ...m, data: jsonNormalized(m.data) } : m;
    case MessageType.Error:
      return { ...m, error: jsonNormalized(m.error) };
    default:
      return m;
  }
}

const codecOptionsArb = fc.record({
  codec: fc.constantFrom<SerializerName>('json', 'msgpack'),
  compression: fc.constantFrom<'none' | 'gzip'>('none', 'gzip'),
  compressThreshold: fc.constantFrom(0, 1, 64, 8192),
});

function decodeStream(chunks: Buffer[], maxFrameSize: number): Frame[] {
  const decoder = new FrameDecoder(maxFrameSize);
  const out: Frame[] = [];
  for (const c of chunks) decoder.push(c, (f) => out.push(snapshot(f)));
  expect(decoder.bufferedBytes).toBe(0);
  return out;
}

describe('protocol properties: round trips', () => {
  it('frames survive encode → random split → decode', () => {
    fc.assert(
      fc.property(fc.array(rawFrameArb, { minLength: 1, maxLength: 8 }), cutsArb, (frames, cuts) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.codec, f.compression, f.requestId, f.body, 1 << 20)));
        const out = decodeStream(splitAt(stream, cuts.map((c) => c % (stream.length + 1))), 1 << 20);
        // Field by field with Buffer.equals: jest's deep equality on large buffers is slow.
        expect(out).toHaveLength(frames.length);
        out.forEach((f, i) => {
          const { body, ...header } = frames[i];
          expect({ ...f, body: undefined }).toEqual({ ...header, body: undefined });
          expect(f.body.equals(body)).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it('messages survive MessageCodec encode → random split → decode with any codec/compression settings', () => {
    fc.assert(
      fc.property(codecOptionsArb, fc.array(messageArb, { minLength: 1, maxLength: 5 }), cutsArb, (options, messages, cuts) => {
        const codec = codecWith(options);
        const wire = messages.map((m) => codec.encode(m));
        const stream = Buffer.concat(wire);
        const frames = decodeStream(splitAt(stream, cuts.map((c) => c % (stream.length + 1))), codec.maxFrameSize);
        expect(frames).toHaveLength(messages.length);
        frames.forEach((frame, i) => {
          expect(frame.type).toBe(frameTypeOf(messages[i]));
          expect(frame.codec).toBe(codec.codecId);
          // Compressed only when allowed, big enough, and actually smaller.
          if (frame.compression === CompressionId.Gzip) {
            expect(options.compression).toBe('gzip');
            expect(frame.body.length).toBeGreaterThan(0);
          }
          expect(codec.decode(frame)).toEqual(expectedOf(messages[i]));
        });
      }),
      RUNS,
    );
  });

  it('the compression threshold is respected exactly', () => {
    fc.assert(
      fc.property(fc.constantFrom<SerializerName>('json', 'msgpack'), fc.nat({ max: 600 }), fc.nat({ max: 600 }), (name, threshold, n) => {
        const plain = codecWith({ codec: name });
        const gzip = codecWith({ codec: name, compression: 'gzip', compressThreshold: threshold });
        const m: Message = { type: MessageType.Response, requestId: 1, data: 'ab'.repeat(n) };
        const bodyLength = plain.encode(m).length - HEADER_SIZE;
        const frame = decodeStream([gzip.encode(m)], 1 << 20)[0];
        if (bodyLength < threshold || bodyLength === 0) expect(frame.compression).toBe(CompressionId.None);
        if (frame.compression === CompressionId.None) expect(frame.body.length).toBe(bodyLength);
        else expect(frame.body.length).toBeLessThan(bodyLength);
        expect(gzip.decode(frame)).toEqual(m);
      }),
      RUNS,
    );
  });

  it('a codec answers in the codec of the frame and any codec reads it', () => {
    fc.assert(
      fc.property(messageArb, fc.constantFrom(...CODEC_IDS), (message, codecId) => {
        const sender = codecWith({ codec: 'json' });
        const receiver = codecWith({ codec: 'msgpack', compression: 'gzip', compressThreshold: 0 });
        const frame = decodeStream([sender.encode(message, codecId)], 1 << 20)[0];
        expect(frame.codec).toBe(codecId);
        expect(receiver.decode(frame)).toEqual(expectedOf(message));
      }),
      { numRuns: 300 },
    );
  });
});

/** Mutations of a valid stream, the way a buggy or hostile peer (or a bit flip) would produce them. */
type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), remove: fc.nat({ max: 8 }), insert: fc.uint8Array({ maxLength: 8 }) }),
);

function mutate(buf: Buffer, mutations: Mutation[], from = 0): Buffer {
  let out = Buffer.from(buf);
  for (const m of mutations) {
    const span = out.length - from;
    if (span <= 0) break;
    const at = from + (m.at % span);
    switch (m.kind) {
      case 'flip':
        out[at] ^= m.mask;
        break;
      case 'set':
        out[at] = m.value;
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'splice':
        out = Buffer.concat([out.subarray(0, at), m.insert, out.subarray(Math.min(at + m.remove, out.length))]);
        break;
    }
  }
  return out;
}

/**
 * Feeds `chunks` to a decoder and every delivered frame to `codec`: the only acceptable failures
 * are the protocol's typed errors. Returns how many frames decoded into messages.
 */
function feed(chunks: Buffer[], codec: MessageCodec, maxFrameSize: number): number {
  const decoder = new FrameDecoder(maxFrameSize);
  let decoded = 0;
  const onFrame = (frame: Frame) => {
    try {
      const message = codec.decode(frame);
      // A DeadlineRequest frame is a Request with a budget.
      expect(message.type).toBe(frame.type === MessageType.DeadlineRequest ? MessageType.Request : frame.type);
      decoded++;
    } catch (err) {
      // The transport keeps the connection for a bad body: only typed errors are acceptable.
      if (!isProtocolError(err)) throw err;
    }
  };
  for (const chunk of chunks) {
    try {
      decoder.push(chunk, onFrame);
    } catch (err) {
      if (!isProtocolError(err)) throw err;
      // Poisoned for good.
      expect(() => decoder.push(Buffer.from([0]), onFrame)).toThrow(err as Error);
      return decoded;
    }
  }
  return decoded;
}

const SMALL_LIMITS = { maxFrameSize: 2048, maxBodySize: 1024, maxPatternLength: 32 };

describe('protocol properties: robustness', () => {
  it('random bytes never crash the decoder or the codec with anything but typed errors', () => {
    const codec = codecWith(SMALL_LIMITS);
    fc.assert(
      fc.property(fc.constantFrom('raw', 'magic', 'length'), fc.uint8Array({ maxLength: 400, size: 'max' }), cutsArb, (start, bytes, cuts) => {
        // Valid prefixes get random bytes past the magic/version and length checks into the rest of the header.
        let buf = Buffer.from(bytes);
        if (start !== 'raw') buf = Buffer.concat([Buffer.from('msnb\x01', 'latin1'), buf]);
        if (start === 'length' && buf.length >= HEADER_SIZE) buf.writeUInt32BE(HEADER_SIZE + (bytes[0] ?? 0), 5);
        feed(splitAt(buf, cuts.map((c) => c % (buf.length + 1))), codec, SMALL_LIMITS.maxFrameSize);
      }),
      { numRuns: 1500 },
    );
  });

  it('random bytes behind a valid header never crash the codec, for every type/codec/compression', () => {
    const codec = codecWith(SMALL_LIMITS);
    fc.assert(
      fc.property(rawFrameArb, fc.boolean(), (f, gzipBody) => {
        const body = gzipBody && f.compression === CompressionId.Gzip ? gzipSync(f.body) : f.body;
        feed([encodeFrame(f.type, f.codec, f.compression, f.requestId, body, 1 << 20)], codec, 1 << 20);
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated valid streams (flip, set, truncate, splice anywhere) fail only with typed errors', () => {
    fc.assert(
      fc.property(
        codecOptionsArb,
        fc.array(messageArb, { minLength: 1, maxLength: 3 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        cutsArb,
        (options, messages, mutations, cuts) => {
          const codec = codecWith({ ...options, maxFrameSize: 1 << 16, maxBodySize: 1 << 16 });
          const stream = mutate(Buffer.concat(messages.map((m) => codec.encode(m))), mutations);
          const receiver = codecWith({ ...SMALL_LIMITS, maxFrameSize: 1 << 16 });
          feed(splitAt(stream, cuts.map((c) => c % (stream.length + 1))), receiver, 1 << 16);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('mutated bodies behind consistent headers reach the codec and fail only with typed errors', () => {
    // Mutate the (uncompressed) body, then rebuild a header that tells the truth about it and
    // optionally gzip it, so the envelope and serializers see the damage rather than the framing.
    fc.assert(
      fc.property(
        fc.constantFrom<SerializerName>('json', 'msgpack'),
        messageArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.option(fc.constantFrom(...MESSAGE_TYPES), { nil: undefined }),
        (name, message, mutations, compress, retype) => {
          const codec = codecWith({ codec: name });
          const encoded = codec.encode(message);
          const body = mutate(encoded.subarray(HEADER_SIZE), mutations);
          const finalBody = compress ? gzipSync(body) : body;
          const type = retype ?? message.type;
          const compression = compress ? CompressionId.Gzip : CompressionId.None;
          const frame = encodeFrame(type, codec.codecId, compression, 1, finalBody, 1 << 20);
          feed([frame], codecWith(SMALL_LIMITS), 1 << 20);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
