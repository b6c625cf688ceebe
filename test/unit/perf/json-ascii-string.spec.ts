import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { HEADER_SIZE, MessageType } from '../../../lib/protocol/frame-header.js';
import { ASCII_LITERAL_MIN_LENGTH, isAscii, writeAsciiLiteral } from '../../../lib/protocol/json-ascii-string.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../../lib/protocol/protocol-options.js';

/**
 * Long ASCII strings skip JSON.stringify; the bytes on the wire must stay exactly
 * JSON.stringify's, wherever the string sits in the frame (alignment) and whatever it holds.
 */

const codec = new MessageCodec(resolveProtocolOptions({ codec: 'json' }));
const gzipCodec = new MessageCodec(resolveProtocolOptions({ codec: 'json', compression: 'gzip', compressThreshold: 64 }));

const ROUTE_PREFIX = 6;

/** Body of a Request frame: route prefix, pattern, metadata, then the JSON payload. */
function requestPayload(frame: Buffer, pattern: string): Buffer {
  const patternLength = Buffer.byteLength(pattern);
  const metaLength = frame.readUInt32BE(HEADER_SIZE + 2 + patternLength);
  return frame.subarray(HEADER_SIZE + ROUTE_PREFIX + patternLength + metaLength);
}

const asciiChar = fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c));
const plainChar = fc.constantFrom(...'abcXYZ019 +/=-_.,:;{}[]~'.split(''));
/** Long strings, mostly plain, sometimes with characters that need escaping or are not ASCII. */
const longString = fc
  .tuple(
    fc.array(plainChar, { minLength: ASCII_LITERAL_MIN_LENGTH, maxLength: ASCII_LITERAL_MIN_LENGTH + 70 }),
    fc.array(fc.tuple(fc.nat(), fc.oneof(asciiChar, fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '😀', '\ud800'))), {
      maxLength: 3,
    }),
  )
  .map(([chars, inserts]) => {
    for (const [at, ch] of inserts) chars.splice(at % (chars.length + 1), 0, ch);
    return chars.join('');
  });

describe('JSON ASCII string literals', () => {
  it('writes exactly JSON.stringify for response values, or reports that escaping is needed', () => {
    fc.assert(
      fc.property(longString, fc.integer({ min: 0, max: 7 }), (value, shift) => {
        const target = Buffer.alloc(value.length + 2 + shift + 8);
        const ok = isAscii(value) && writeAsciiLiteral(target, shift, value);
        const expected = Buffer.from(JSON.stringify(value));
        if (ok) expect(target.subarray(shift, shift + value.length + 2)).toEqual(expected);
        else expect(isAscii(value) ? /["\\\u0000-\u001f]/.test(value) : true).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('frames carry JSON.stringify bytes and decode back, for every message carrying a value', () => {
    fc.assert(
      fc.property(longString, fc.string({ maxLength: 9 }), (value, pattern) => {
        const json = Buffer.from(JSON.stringify(value));
        const end = codec.encode({ type: MessageType.End, requestId: 3, hasData: true, data: value });
        expect(end.subarray(HEADER_SIZE)).toEqual(json);
        const request = codec.encode({ type: MessageType.Request, requestId: 4, pattern, data: value, metadata: { k: 'v' } });
        expect(requestPayload(request, pattern)).toEqual(json);
        const decoded = codec.decode({
          type: MessageType.Request,
          codec: request[10],
          compression: request[11],
          requestId: 4,
          body: request.subarray(HEADER_SIZE),
        });
        expect(decoded).toEqual({ type: MessageType.Request, requestId: 4, pattern, data: value, metadata: { k: 'v' } });
      }),
      { numRuns: 300 },
    );
  });

  it('compressed frames hold the same JSON', () => {
    const value = 'q'.repeat(5000);
    const frame = gzipCodec.encode({ type: MessageType.Response, requestId: 1, data: value });
    const back = gzipCodec.decode({ type: frame[9], codec: frame[10], compression: frame[11], requestId: 1, body: frame.subarray(HEADER_SIZE) });
    expect(back).toEqual({ type: MessageType.Response, requestId: 1, data: value });
    const escaped = `"${'q'.repeat(3000)}\\`;
    const frame2 = gzipCodec.encode({ type: MessageType.Event, pattern: 'p', data: escaped });
    const back2 = gzipCodec.decode({ type: frame2[9], codec: frame2[10], compression: frame2[11], requestId: 0, body: frame2.subarray(HEADER_SIZE) });
    expect(back2).toEqual({ type: MessageType.Event, pattern: 'p', data: escaped });
  });

  it('short strings and non-strings still go through JSON.stringify', () => {
    for (const data of ['x'.repeat(ASCII_LITERAL_MIN_LENGTH - 1), { s: 'y'.repeat(5000) }, ['z'.repeat(5000)]]) {
      const frame = codec.encode({ type: MessageType.Response, requestId: 1, data });
      expect(frame.subarray(HEADER_SIZE)).toEqual(Buffer.from(JSON.stringify(data)));
    }
  });
});
