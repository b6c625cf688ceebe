/**
 * The hostile frames of the fuzz, one generator per category (scripts/fuzz-plan.ts lists them and
 * what the server must do about each).
 */
import { gzipSync } from 'node:zlib';
import { CodecId, CompressionId, HEADER_SIZE, MAGIC, MessageType, PROTOCOL_VERSION } from '../lib/protocol/frame-header.js';
import { AttackContext, type AttackStep, type Category } from './fuzz-plan.js';
import {
  encodeValue,
  FUZZ_PATTERNS,
  msgpackGarbage,
  randomText,
  randomValue,
  rawFrame,
  routeBody,
  split,
  withBadUtf8,
  type RawFrameInit,
} from './fuzz-wire.js';

/** A well-formed request frame (the raw material of the mutated categories). */
export function validRequest(ctx: AttackContext, pattern: string = FUZZ_PATTERNS.echo, data?: unknown): Buffer {
  const rng = ctx.rng;
  const codec = rng.chance(0.5) ? CodecId.Json : CodecId.MsgPack;
  const metadata = rng.chance(0.3) ? encodeValue(codec, { trace: randomText(rng, 8) }) : Buffer.alloc(0);
  const body = routeBody(pattern, metadata, encodeValue(codec, data ?? randomValue(rng)));
  return rawFrame({ type: MessageType.Request, codec, requestId: ctx.requestId(), body });
}

type Generator = (ctx: AttackContext) => Omit<AttackStep, 'category'>;

const fatalHeader = (ctx: AttackContext, field: Partial<RawFrameInit>): Omit<AttackStep, 'category'> => {
  const frame = rawFrame({ type: MessageType.Request, requestId: ctx.requestId(), body: ctx.rng.bytes(ctx.rng.int(0, 64)), ...field });
  return { chunks: split(ctx.rng, frame), frames: 1, effect: 'fatal' };
};

const GENERATORS: Record<Category, Generator> = {
  'valid-request': (ctx) => {
    const n = ctx.rng.int(1, 16);
    const frames = Array.from({ length: n }, () =>
      validRequest(ctx, ctx.rng.chance(0.9) ? FUZZ_PATTERNS.echo : randomText(ctx.rng, ctx.rng.int(1, 40))),
    );
    return { chunks: split(ctx.rng, Buffer.concat(frames), 4), frames: n, effect: 'benign' };
  },
  'corrupt-body': (ctx) => {
    const rng = ctx.rng;
    const type = rng.pick([MessageType.Request, MessageType.Event, MessageType.Hello]);
    const body = rng.bytes(rng.size(0, 4096));
    const frame = rawFrame({ type, codec: rng.pick([CodecId.Json, CodecId.MsgPack]), requestId: ctx.requestId(), body });
    return { chunks: split(rng, frame), frames: 1, effect: type === MessageType.Hello ? 'any' : 'benign' };
  },
  'mutated-frame': (ctx) => {
    const rng = ctx.rng;
    const frame = validRequest(ctx);
    for (let i = rng.int(1, 4); i > 0; i--) frame[rng.int(0, frame.length - 1)] = rng.u32() & 0xff;
    return { chunks: split(rng, frame), frames: 1, effect: 'any' };
  },
  'lying-length-long': (ctx) => {
    // The next step's bytes become this frame's body, and the stream is shifted from there on.
    const frame = validRequest(ctx);
    frame.writeUInt32BE(frame.length + ctx.rng.size(1, 64 * 1024), 5);
    return { chunks: [frame], frames: 1, effect: 'any' };
  },
  'lying-length-short': (ctx) => {
    const frame = validRequest(ctx);
    frame.writeUInt32BE(ctx.rng.int(HEADER_SIZE, Math.max(HEADER_SIZE, frame.length - 1)), 5);
    return { chunks: [frame], frames: 1, effect: 'any' };
  },
  'length-over-max': (ctx) => {
    const max = ctx.limits.maxFrameSize;
    const length = ctx.rng.chance(0.3) ? max + 1 : ctx.rng.int(max + 1, 0xffffffff);
    return fatalHeader(ctx, { length });
  },
  'length-under-header': (ctx) => fatalHeader(ctx, { length: ctx.rng.int(0, HEADER_SIZE - 1) }),
  'bad-magic': (ctx) => {
    let magic = ctx.rng.u32();
    if (magic === MAGIC) magic ^= 1;
    return fatalHeader(ctx, { magic });
  },
  'bad-version': (ctx) => fatalHeader(ctx, { version: ctx.rng.chance(0.3) ? 0 : ctx.rng.int(PROTOCOL_VERSION + 1, 255) }),
  'unknown-type': (ctx) => fatalHeader(ctx, { type: ctx.rng.chance(0.2) ? 0 : ctx.rng.int(11, 255) }),
  'unknown-codec': (ctx) => fatalHeader(ctx, { codec: ctx.rng.chance(0.2) ? 0 : ctx.rng.int(3, 255) }),
  'unknown-compression': (ctx) => fatalHeader(ctx, { compression: ctx.rng.int(2, 255) }),
  'truncated-close': (ctx) => {
    const frame = validRequest(ctx);
    return { chunks: [frame.subarray(0, ctx.rng.int(1, frame.length - 1))], frames: 1, effect: 'truncate' };
  },
  'gzip-bomb': (ctx) => {
    const bomb = ctx.shared.gzipBomb;
    const route = ctx.rng.chance(0.5);
    // As a route body the bomb is what the server inflates; a Response-type bomb is checked the same way.
    const frame = rawFrame({
      type: route ? MessageType.Request : MessageType.Event,
      compression: CompressionId.Gzip,
      requestId: ctx.requestId(),
      body: bomb,
    });
    return { chunks: [frame], frames: 1, effect: 'benign' };
  },
  'corrupt-gzip': (ctx) => {
    const rng = ctx.rng;
    let body: Buffer;
    if (rng.chance(0.5)) {
      body = rng.bytes(rng.size(1, 2048));
    } else {
      const valid = gzipSync(routeBody(FUZZ_PATTERNS.echo, Buffer.alloc(0), Buffer.from(JSON.stringify(randomValue(rng)))));
      body = rng.chance(0.5) ? valid.subarray(0, rng.int(1, valid.length - 1)) : valid;
      if (body === valid) valid[rng.int(10, valid.length - 1)] ^= 0xff;
    }
    const frame = rawFrame({ type: MessageType.Request, compression: CompressionId.Gzip, requestId: ctx.requestId(), body });
    return { chunks: [frame], frames: 1, effect: 'benign' };
  },
  'deep-json': (ctx) => {
    const depth = ctx.rng.int(50_000, 100_000);
    const closed = ctx.rng.chance(0.5);
    const data = Buffer.from('['.repeat(depth) + (closed ? ']'.repeat(depth) : ''), 'latin1');
    const frame = rawFrame({
      type: MessageType.Request,
      requestId: ctx.requestId(),
      body: routeBody(FUZZ_PATTERNS.echo, Buffer.alloc(0), data),
    });
    return { chunks: [frame], frames: 1, effect: 'benign' };
  },
  'wide-body': (ctx) => {
    // Legal but costly: a few bytes per object (decoders allocate far more than they read).
    const rng = ctx.rng;
    const count = rng.int(10_000, 60_000);
    const msgpack = rng.chance(0.5);
    const data = msgpack
      ? Buffer.concat([Buffer.from([0xdd, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff]), Buffer.alloc(count, 0x90)])
      : Buffer.from(`[${'[],'.repeat(count - 1)}[]]`, 'latin1');
    const frame = rawFrame({
      type: MessageType.Request,
      codec: msgpack ? CodecId.MsgPack : CodecId.Json,
      requestId: ctx.requestId(),
      body: routeBody(FUZZ_PATTERNS.echo, Buffer.alloc(0), data),
    });
    return { chunks: split(rng, frame, 3), frames: 1, effect: 'benign' };
  },
  'huge-pattern': (ctx) => {
    const rng = ctx.rng;
    const max = ctx.limits.maxPatternLength;
    const length = rng.chance(0.5) ? rng.int(max + 1, 65535) : rng.int(Math.max(1, max - 8), max);
    const pattern = Buffer.alloc(length, 0x70);
    // Sometimes the length field says more than the pattern bytes sent.
    const claimed = rng.chance(0.3) ? Math.min(65535, length + rng.int(1, 1000)) : length;
    const frame = rawFrame({
      type: rng.pick([MessageType.Request, MessageType.Event]),
      requestId: ctx.requestId(),
      body: routeBody(pattern, Buffer.alloc(0), Buffer.from('1'), claimed),
    });
    return { chunks: split(rng, frame), frames: 1, effect: 'benign' };
  },
  'huge-metadata': (ctx) => {
    const rng = ctx.rng;
    const codec = rng.chance(0.5) ? CodecId.Json : CodecId.MsgPack;
    const metadata = rng.pick(ctx.shared.hugeMetadata[codec]);
    const lie = rng.chance(0.2) ? metadata.length + rng.int(1, 1 << 20) : undefined;
    const frame = rawFrame({
      type: MessageType.Request,
      codec,
      requestId: ctx.requestId(),
      body: routeBody(FUZZ_PATTERNS.echo, metadata, encodeValue(codec, 1), undefined, lie),
    });
    return { chunks: split(rng, frame, 3), frames: 1, effect: 'benign' };
  },
  'invalid-utf8': (ctx) => {
    const rng = ctx.rng;
    const where = rng.int(0, 2);
    const pattern = where === 0 ? withBadUtf8(rng, FUZZ_PATTERNS.echo) : Buffer.from(FUZZ_PATTERNS.echo);
    const metadata = where === 1 ? Buffer.concat([Buffer.from('{"k":"'), withBadUtf8(rng, 'v'), Buffer.from('"}')]) : Buffer.alloc(0);
    const data = where === 2 ? Buffer.concat([Buffer.from('"'), withBadUtf8(rng, randomText(rng, 20)), Buffer.from('"')]) : Buffer.from('1');
    const frame = rawFrame({ type: MessageType.Request, requestId: ctx.requestId(), body: routeBody(pattern, metadata, data) });
    return { chunks: [frame], frames: 1, effect: 'benign' };
  },
  'msgpack-garbage': (ctx) => {
    const rng = ctx.rng;
    const garbage = msgpackGarbage(rng);
    const inMeta = rng.chance(0.3);
    const body = routeBody(FUZZ_PATTERNS.echo, inMeta ? garbage : Buffer.alloc(0), inMeta ? encodeValue(CodecId.MsgPack, 1) : garbage);
    const type = rng.pick([MessageType.Request, MessageType.Request, MessageType.Event]);
    const frame = rawFrame({ type, codec: CodecId.MsgPack, requestId: ctx.requestId(), body });
    return { chunks: split(rng, frame), frames: 1, effect: 'benign' };
  },
  'request-id-reuse': (ctx) => {
    const rng = ctx.rng;
    const id = ctx.requestId();
    const n = rng.int(2, 5);
    const frames = Array.from({ length: n }, () => {
      const f = validRequest(ctx, FUZZ_PATTERNS.slow, { ms: rng.int(1, 30) });
      f.writeUInt32BE(id, 12);
      return f;
    });
    return { chunks: [Buffer.concat(frames)], frames: n, effect: 'benign' };
  },
  'wrong-direction': (ctx) => {
    const rng = ctx.rng;
    if (rng.chance(0.2)) {
      // An unsolicited Pong is tolerated (it costs nothing, and answers a ping in any direction).
      const n = rng.int(1, 16);
      const pongs = Array.from({ length: n }, () => rawFrame({ type: MessageType.Pong, requestId: rng.u32() }));
      return { chunks: [Buffer.concat(pongs)], frames: n, effect: 'benign' };
    }
    const type = rng.pick([MessageType.Response, MessageType.End, MessageType.Error, MessageType.GoAway]);
    const body = type === MessageType.GoAway ? encodeValue(CodecId.Json, { reason: 'bye' }) : encodeValue(CodecId.Json, randomValue(rng));
    return { chunks: [rawFrame({ type, requestId: rng.u32(), body })], frames: 1, effect: 'fatal' };
  },
  'cancel-unknown': (ctx) => {
    const n = ctx.rng.int(1, 48);
    const frames = Array.from({ length: n }, () => rawFrame({ type: MessageType.Cancel, requestId: ctx.rng.u32() }));
    return { chunks: split(ctx.rng, Buffer.concat(frames), 3), frames: n, effect: 'benign' };
  },
  'ping-flood': (ctx) => {
    const n = ctx.rng.int(20, 300);
    const ping = rawFrame({ type: MessageType.Ping });
    return { chunks: [Buffer.concat(Array.from({ length: n }, () => ping))], frames: n, effect: 'benign' };
  },
  'random-bytes': (ctx) => {
    const rng = ctx.rng;
    // At least a header's worth, so the server has something to judge (fewer bytes just wait).
    return { chunks: [rng.bytes(rng.size(HEADER_SIZE, 8192))], frames: 1, effect: 'any' };
  },
  'event-garbage': (ctx) => {
    const rng = ctx.rng;
    const n = rng.int(1, 8);
    const frames = Array.from({ length: n }, () => {
      const pattern = rng.chance(0.5) ? FUZZ_PATTERNS.event : randomText(rng, rng.int(0, 100));
      const codec = rng.chance(0.5) ? CodecId.Json : CodecId.MsgPack;
      const data = rng.chance(0.7) ? encodeValue(codec, randomValue(rng)) : rng.bytes(rng.int(1, 64));
      return rawFrame({ type: MessageType.Event, codec, body: routeBody(pattern, Buffer.alloc(0), data) });
    });
    return { chunks: [Buffer.concat(frames)], frames: n, effect: 'benign' };
  },
  'hello-garbage': (ctx) => {
    const rng = ctx.rng;
    const settings = rng.pick<unknown>([
      { idleTimeoutMs: -1, maxFrameSize: 1 },
      { idleTimeoutMs: 1e300, maxFrameSize: 'x' },
      { authToken: 'x'.repeat(rng.int(4000, 9000)), idleTimeoutMs: 0, maxFrameSize: 65536 },
      { idleTimeoutMs: 0, maxFrameSize: 16 },
      randomValue(rng),
    ]);
    const frame = rawFrame({ type: MessageType.Hello, body: encodeValue(CodecId.Json, settings) });
    return { chunks: [frame], frames: 1, effect: 'any' };
  },
  'stall': (ctx) => {
    const frame = validRequest(ctx);
    const cut = ctx.rng.chance(0.5) ? ctx.rng.int(1, HEADER_SIZE - 1) : ctx.rng.int(HEADER_SIZE, frame.length - 1);
    return { chunks: [frame.subarray(0, cut)], frames: 1, effect: 'stall' };
  },
};

/** One attack step of `category`. */
export function generateStep(ctx: AttackContext, category: Category): AttackStep {
  return { category, ...GENERATORS[category](ctx) };
}
