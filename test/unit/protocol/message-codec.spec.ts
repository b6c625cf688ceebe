import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { FrameDecodeError, FrameTooLargeError, RpcTimeoutError } from '../../../lib/errors/index.js';
import { CodecId, CompressionId, HEADER_SIZE, MessageType } from '../../../lib/protocol/frame-header.js';
import { Message } from '../../../lib/protocol/message.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { SerializerName } from '../../../lib/protocol/serializer.js';
import { codecWith, frameOf } from './protocol-test-helpers.js';

const CODECS: { name: SerializerName; id: CodecId }[] = [
  { name: 'json', id: CodecId.Json },
  { name: 'msgpack', id: CodecId.MsgPack },
];

const DATA = {
  text: 'héllo wörld — 你好 🚀',
  n: 42,
  f: -1.25,
  ok: true,
  none: null,
  list: [1, 'two', { three: [3] }],
  nested: { deep: { deeper: { deepest: 'x' } } },
};

/** One message of every type (and the interesting variants of some). */
function allMessages(): { name: string; message: Message }[] {
  return [
    { name: 'request', message: { type: MessageType.Request, requestId: 1, pattern: 'users.get', data: DATA } },
    {
      name: 'request + metadata',
      message: {
        type: MessageType.Request,
        requestId: 0xffffffff,
        pattern: 'users.get',
        data: [1, 2, 3],
        metadata: { traceId: 'abc', 'x-ünï': 'çødé ✓', empty: '' },
      },
    },
    { name: 'request, unicode pattern', message: { type: MessageType.Request, requestId: 2, pattern: '用户.获取/🚀', data: 'x' } },
    { name: 'request, empty pattern', message: { type: MessageType.Request, requestId: 3, pattern: '', data: 0 } },
    { name: 'request, JSON-object pattern', message: { type: MessageType.Request, requestId: 4, pattern: '{"cmd":"sum"}', data: [1] } },
    { name: 'event', message: { type: MessageType.Event, pattern: 'user.created', data: DATA } },
    { name: 'event + metadata', message: { type: MessageType.Event, pattern: 'e', data: 'x', metadata: { a: 'b' } } },
    { name: 'response', message: { type: MessageType.Response, requestId: 5, data: DATA } },
    { name: 'response with a string', message: { type: MessageType.Response, requestId: 5, data: '' } },
    { name: 'response with null', message: { type: MessageType.Response, requestId: 5, data: null } },
    { name: 'end with value', message: { type: MessageType.End, requestId: 6, hasData: true, data: DATA } },
    { name: 'end with falsy value', message: { type: MessageType.End, requestId: 6, hasData: true, data: 0 } },
    { name: 'end without value', message: { type: MessageType.End, requestId: 6, hasData: false } },
    { name: 'error (plain object)', message: { type: MessageType.Error, requestId: 7, error: { status: 'error', message: 'nope' } } },
    { name: 'error (string)', message: { type: MessageType.Error, requestId: 7, error: 'nope' } },
    { name: 'ping', message: { type: MessageType.Ping, requestId: 8 } },
    { name: 'pong', message: { type: MessageType.Pong, requestId: 8 } },
    { name: 'cancel', message: { type: MessageType.Cancel, requestId: 9 } },
    { name: 'go-away', message: { type: MessageType.GoAway, reason: 'shutting down ✋' } },
    { name: 'hello', message: { type: MessageType.Hello, settings: { idleTimeoutMs: 30000, maxFrameSize: 8388608 } } },
    { name: 'hello (zero idle timeout)', message: { type: MessageType.Hello, settings: { idleTimeoutMs: 0, maxFrameSize: 16 } } },
  ];
}

function roundTrip(codec: MessageCodec, message: Message, codecId?: CodecId): { out: Message; wire: Buffer } {
  const wire = codec.encode(message, codecId);
  return { out: codec.decode(frameOf(wire)), wire };
}

describe.each(CODECS)('MessageCodec round trip ($name)', ({ name, id }) => {
  const plain = codecWith({ codec: name });
  // Threshold 0 so that every non-empty body is a candidate for compression.
  const gzip = codecWith({ codec: name, compression: 'gzip', compressThreshold: 0 });

  it('advertises its codec', () => {
    expect(plain.codecId).toBe(id);
    expect(plain.maxFrameSize).toBe(8 * 1024 * 1024);
  });

  it.each(allMessages())('$name', ({ message }) => {
    const { out, wire } = roundTrip(plain, message);
    expect(out).toEqual(message);
    const frame = frameOf(wire);
    expect(frame.type).toBe(message.type);
    expect(frame.codec).toBe(id);
    expect(frame.compression).toBe(CompressionId.None);
    expect(frame.requestId).toBe('requestId' in message ? message.requestId : 0);
  });

  it.each(allMessages())('$name, gzip on', ({ message }) => {
    const { out } = roundTrip(gzip, message);
    expect(out).toEqual(message);
  });

  it('compresses large compressible bodies and the header says so', () => {
    const big = { rows: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: 'row-name-repeated' })) };
    const { out, wire } = roundTrip(gzip, { type: MessageType.Response, requestId: 1, data: big });
    const frame = frameOf(wire);
    expect(frame.compression).toBe(CompressionId.Gzip);
    expect(gunzipSync(frame.body).length).toBeGreaterThan(frame.body.length * 5);
    expect(out).toEqual({ type: MessageType.Response, requestId: 1, data: big });
  });

  it('compresses requests as a whole body (envelope included)', () => {
    const message: Message = {
      type: MessageType.Request,
      requestId: 3,
      pattern: 'p'.repeat(100),
      data: 'z'.repeat(10_000),
      metadata: { k: 'v'.repeat(500) },
    };
    const { out, wire } = roundTrip(gzip, message);
    expect(frameOf(wire).compression).toBe(CompressionId.Gzip);
    expect(wire.length).toBeLessThan(1000);
    expect(out).toEqual(message);
  });

  it('overrides the codec per message and decodes by the header, not by its own default', () => {
    const other = id === CodecId.Json ? CodecId.MsgPack : CodecId.Json;
    const message: Message = { type: MessageType.Response, requestId: 1, data: DATA };
    const { out, wire } = roundTrip(plain, message, other);
    expect(frameOf(wire).codec).toBe(other);
    expect(out).toEqual(message);
    // And a codec configured for the other format still reads it.
    expect(codecWith({ codec: other === CodecId.Json ? 'json' : 'msgpack' }).decode(frameOf(wire))).toEqual(message);
  });
});

describe('MessageCodec compression threshold', () => {
  const body = (n: number) => ({ type: MessageType.Response, requestId: 1, data: 'a'.repeat(n) }) as Message;

  it.each(CODECS)('leaves bodies below the threshold uncompressed and compresses at the threshold ($name)', ({ name }) => {
    const codec = codecWith({ codec: name, compression: 'gzip', compressThreshold: 1000 });
    const plainCodec = codecWith({ codec: name });
    // Find the data length whose serialized body is exactly 1000 bytes for this codec.
    let n = 900;
    while (plainCodec.encode(body(n)).length - HEADER_SIZE < 1000) n++;
    expect(plainCodec.encode(body(n)).length - HEADER_SIZE).toBe(1000);

    const below = frameOf(codec.encode(body(n - 1)));
    expect(below.compression).toBe(CompressionId.None);
    expect(below.body.length).toBe(999);
    const at = frameOf(codec.encode(body(n)));
    expect(at.compression).toBe(CompressionId.Gzip);
    expect(at.body.length).toBeLessThan(100);
    expect(codec.decode(at)).toEqual(body(n));
    expect(codec.decode(below)).toEqual(body(n - 1));
  });

  it('uses the default threshold of 8192 bytes', () => {
    const codec = codecWith({ compression: 'gzip' });
    expect(frameOf(codec.encode(body(8000))).compression).toBe(CompressionId.None);
    expect(frameOf(codec.encode(body(8200))).compression).toBe(CompressionId.Gzip);
  });

  it('sends incompressible bodies uncompressed even above the threshold', () => {
    const codec = codecWith({ codec: 'msgpack', compression: 'gzip', compressThreshold: 0 });
    const random = randomBytes(20_000);
    const message: Message = { type: MessageType.Response, requestId: 1, data: random };
    const wire = codec.encode(message);
    const frame = frameOf(wire);
    expect(frame.compression).toBe(CompressionId.None);
    const out = codec.decode(frame) as { data: Uint8Array };
    expect(Buffer.from(out.data).equals(random)).toBe(true);
  });

  it('never compresses empty bodies (ping, end without value)', () => {
    const codec = codecWith({ compression: 'gzip', compressThreshold: 0 });
    for (const m of [
      { type: MessageType.Ping, requestId: 1 },
      { type: MessageType.End, requestId: 1, hasData: false },
    ] as Message[]) {
      const frame = frameOf(codec.encode(m));
      expect(frame.compression).toBe(CompressionId.None);
      expect(frame.body).toHaveLength(0);
    }
  });

  it('does not compress when compression is off, whatever the size', () => {
    const frame = frameOf(codecWith().encode(body(100_000)));
    expect(frame.compression).toBe(CompressionId.None);
  });
});

describe.each(CODECS)('MessageCodec value semantics ($name)', ({ name }) => {
  const codec = codecWith({ codec: name });
  const rt = (m: Message) => codec.decode(frameOf(codec.encode(m)));

  it('undefined data is an empty body and decodes as undefined', () => {
    const wire = codec.encode({ type: MessageType.Response, requestId: 1, data: undefined });
    expect(wire).toHaveLength(HEADER_SIZE);
    expect(codec.decode(frameOf(wire))).toEqual({ type: MessageType.Response, requestId: 1, data: undefined });
    const req = rt({ type: MessageType.Request, requestId: 2, pattern: 'p', data: undefined });
    expect(req).toEqual({ type: MessageType.Request, requestId: 2, pattern: 'p', data: undefined });
    expect('metadata' in req).toBe(false);
  });

  it('End without value has an empty body; End with an undefined value means the same (Nest completes without next)', () => {
    const none = codec.encode({ type: MessageType.End, requestId: 1, hasData: false });
    expect(none).toHaveLength(HEADER_SIZE);
    const decoded = codec.decode(frameOf(none));
    expect(decoded).toEqual({ type: MessageType.End, requestId: 1, hasData: false });
    expect('data' in decoded).toBe(false);
    expect(rt({ type: MessageType.End, requestId: 1, hasData: true, data: undefined })).toEqual({
      type: MessageType.End,
      requestId: 1,
      hasData: false,
    });
    // hasData:false wins over a stray data field.
    expect(rt({ type: MessageType.End, requestId: 1, hasData: false, data: 'ignored' })).toEqual({
      type: MessageType.End,
      requestId: 1,
      hasData: false,
    });
    // null is a value, not "no value".
    expect(rt({ type: MessageType.End, requestId: 1, hasData: true, data: null })).toEqual({
      type: MessageType.End,
      requestId: 1,
      hasData: true,
      data: null,
    });
  });

  it('absent or empty metadata decodes as absent', () => {
    for (const metadata of [undefined, {}]) {
      const out = rt({ type: MessageType.Event, pattern: 'e', data: 1, metadata });
      expect(out).toEqual({ type: MessageType.Event, pattern: 'e', data: 1 });
      expect('metadata' in out).toBe(false);
    }
  });

  it('turns Error instances into plain {status, message, name} objects (plus a string code)', () => {
    const plainErr = rt({ type: MessageType.Error, requestId: 1, error: new TypeError('bad input') });
    expect(plainErr).toEqual({
      type: MessageType.Error,
      requestId: 1,
      error: { status: 'error', message: 'bad input', name: 'TypeError' },
    });
    const typed = rt({ type: MessageType.Error, requestId: 1, error: new RpcTimeoutError('p', 5) }) as {
      error: Record<string, unknown>;
    };
    expect(typed.error).toEqual({
      status: 'error',
      message: 'Call to "p" timed out after 5 ms',
      name: 'RpcTimeoutError',
      code: 'ERR_RPC_TIMEOUT',
    });
    const numericCode = Object.assign(new Error('x'), { code: 42, stack: 'secret stack' });
    expect((rt({ type: MessageType.Error, requestId: 1, error: numericCode }) as { error: unknown }).error).toEqual({
      status: 'error',
      message: 'x',
      name: 'Error',
    });
  });

  it('sends an undefined error as a generic error object', () => {
    expect(rt({ type: MessageType.Error, requestId: 1, error: undefined })).toEqual({
      type: MessageType.Error,
      requestId: 1,
      error: { status: 'error', message: 'Unknown error' },
    });
  });

  it('GoAway without a string reason decodes as "draining"', () => {
    const enc = codecWith({ codec: name });
    // A reason of the wrong type, as another implementation might send it.
    const bad = enc.encode({ type: MessageType.GoAway, reason: 5 as unknown as string });
    expect(enc.decode(frameOf(bad))).toEqual({ type: MessageType.GoAway, reason: 'draining' });
  });

  it('keeps the pattern bytes exact for unicode (4-byte UTF-8 and combining marks)', () => {
    for (const pattern of ['𝄞', 'e\u0301', '🏳️‍🌈', 'a'.repeat(1024), 'é'.repeat(512)]) {
      expect(rt({ type: MessageType.Request, requestId: 1, pattern, data: null })).toEqual({
        type: MessageType.Request,
        requestId: 1,
        pattern,
        data: null,
      });
    }
  });
});

describe('MessageCodec codec specifics', () => {
  it('JSON: values JSON cannot carry are sent as "no value" instead of throwing', () => {
    const codec = codecWith({ codec: 'json' });
    const wire = codec.encode({ type: MessageType.Response, requestId: 1, data: () => 1 });
    expect(wire).toHaveLength(HEADER_SIZE);
    expect(codec.decode(frameOf(wire))).toEqual({ type: MessageType.Response, requestId: 1, data: undefined });
  });

  it('JSON body is plain UTF-8 JSON on the wire (readable, Nest-compatible)', () => {
    const codec = codecWith({ codec: 'json' });
    const frame = frameOf(codec.encode({ type: MessageType.Response, requestId: 1, data: { a: 'é' } }));
    expect(frame.body.toString('utf8')).toBe('{"a":"é"}');
  });

  it('msgpack carries binary data and Dates', () => {
    const codec = codecWith({ codec: 'msgpack' });
    const data = { bin: Buffer.from([0, 1, 2, 255]), when: new Date(1700000000000) };
    const out = codec.decode(frameOf(codec.encode({ type: MessageType.Response, requestId: 1, data }))) as {
      data: { bin: Uint8Array; when: Date };
    };
    expect(Buffer.from(out.data.bin).equals(data.bin)).toBe(true);
    expect(out.data.when).toEqual(data.when);
  });

  it('a lone surrogate in a pattern is sent as U+FFFD, consistently with its byte length', () => {
    const codec = codecWith();
    const out = codec.decode(frameOf(codec.encode({ type: MessageType.Event, pattern: 'a\ud800b', data: 1 })));
    expect(out).toEqual({ type: MessageType.Event, pattern: 'a\ufffdb', data: 1 });
  });

  it('every decode error is typed', () => {
    const codec = codecWith();
    const err = (() => {
      try {
        codec.decode({ type: MessageType.Response, codec: CodecId.Json, compression: CompressionId.None, requestId: 1, body: Buffer.from('{') });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FrameDecodeError);
    expect(err).not.toBeInstanceOf(FrameTooLargeError);
  });
});
