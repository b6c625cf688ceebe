import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { HEADER_SIZE, MessageType } from '../../../lib/protocol/frame-header.js';
import { ASCII_LITERAL_MIN_LENGTH, isAscii, writeAsciiLiteral } from '../../../lib/protocol/json-ascii-string.js';
import { JsonSerializer } from '../../../lib/protocol/json-serializer.js';
import { isPlainJs, JsonStringScanner } from '../../../lib/protocol/json-string-scan.js';
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
  const wasmScanner = new JsonStringScanner();
  const jsScanner = new JsonStringScanner(true);

  it('uses WebAssembly SIMD on this Node (the JS loop is the fallback)', () => {
    expect(wasmScanner.usesWasm).toBe(true);
    expect(jsScanner.usesWasm).toBe(false);
  });

  it.each([
    ['wasm', wasmScanner],
    ['js', jsScanner],
  ])('writes exactly JSON.stringify for response values, or reports that escaping is needed (%s scan)', (_, scanner) => {
    fc.assert(
      fc.property(longString, fc.integer({ min: 0, max: 7 }), (value, shift) => {
        const target = Buffer.alloc(value.length + 2 + shift + 8);
        const ok = isAscii(value) && writeAsciiLiteral(target, shift, value, scanner);
        const expected = Buffer.from(JSON.stringify(value));
        if (ok) expect(target.subarray(shift, shift + value.length + 2)).toEqual(expected);
        else expect(isAscii(value) ? /["\\\u0000-\u001f]/.test(value) : true).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('both scans agree with a byte-by-byte reference, at any alignment, across 64 KiB chunks', () => {
    const special = (b: number) => b < 0x20 || b === 0x22 || b === 0x5c || b >= 0x80;
    const plain = fc.integer({ min: 0x20, max: 0x7f }).filter((b) => !special(b));
    const bytes = fc.tuple(
      fc.array(plain, { maxLength: 200 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
      fc.integer({ min: 0, max: 17 }),
    );
    fc.assert(
      fc.property(bytes, ([body, inserts, shift]) => {
        for (const [at, b] of inserts) body.splice(at % (body.length + 1), 0, b);
        const buf = Buffer.alloc(shift + body.length + 3, 0x22);
        buf.set(body, shift);
        const expected = !body.some(special);
        expect(wasmScanner.isPlain(buf, shift, shift + body.length)).toBe(expected);
        expect(jsScanner.isPlain(buf, shift, shift + body.length)).toBe(expected);
        expect(isPlainJs(buf, shift, shift + body.length)).toBe(expected);
      }),
      { numRuns: 500 },
    );
    // Larger than the module's 64 KiB memory: scanned in chunks, a hit in any chunk counts.
    const big = Buffer.alloc(200_000, 0x61);
    expect(wasmScanner.isPlain(big, 1, big.length)).toBe(true);
    for (const at of [1, 65_535, 65_536, 65_537, 131_073, 199_999]) {
      big[at] = 0x0a;
      expect(wasmScanner.isPlain(big, 1, big.length)).toBe(false);
      expect(jsScanner.isPlain(big, 1, big.length)).toBe(false);
      big[at] = 0x61;
    }
  });

  it('decodes long string literals without JSON.parse only when that gives what JSON.parse gives', () => {
    const json = new JsonSerializer();
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    const long = 'b'.repeat(2000);
    // The fast path: an escape-free ASCII literal.
    expect(json.deserialize(latin1(`"${long}"`))).toBe(long);
    // Escapes, non-ASCII text and whitespace around the literal take JSON.parse, same results.
    for (const text of [`"${long}\\n\\"x"`, `"${long}\\u0041"`, ` "${long}" `, `"${long}é"`]) {
      expect(json.deserialize(Buffer.from(text))).toBe(JSON.parse(text));
    }
    // What JSON.parse refuses is still refused: a raw control character, a bare quote inside,
    // a literal that is not closed.
    for (const text of [`"${long}\t${long}"`, `"${long}\u0000"`, `"${long}"${long}"`, `"${long}`]) {
      const raw = latin1(text);
      expect(() => JSON.parse(raw.toString('latin1'))).toThrow(SyntaxError);
      expect(() => json.deserialize(raw)).toThrow(SyntaxError);
    }
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
