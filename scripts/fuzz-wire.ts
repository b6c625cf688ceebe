/**
 * Raw wire material for the fuzz: frames with every header field settable (true or not), route
 * bodies with lying length fields, random values, invalid UTF-8 and hostile MessagePack. Built
 * byte by byte here, not with the library's encoder, so nothing is forced to be valid; only the
 * wire constants come from lib.
 */
import { Packr } from 'msgpackr';
import { CodecId, CompressionId, HEADER_SIZE, MAGIC, PROTOCOL_VERSION } from '../lib/protocol/frame-header.js';
import { FuzzRandom } from './fuzz-random.js';

/** Patterns the fuzz server answers (scripts/fuzz-server-main.ts). */
export const FUZZ_PATTERNS = { echo: 'echo', slow: 'slow', big: 'big', event: 'fuzz.event' } as const;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export interface RawFrameInit {
  type: number;
  codec?: number;
  compression?: number;
  requestId?: number;
  body?: Buffer;
  magic?: number;
  version?: number;
  /** The length field; defaults to the true length. */
  length?: number;
}

/** A frame with every header field settable, true or not. */
export function rawFrame(init: RawFrameInit): Buffer {
  const body = init.body ?? Buffer.alloc(0);
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  out.writeUInt32BE(init.magic ?? MAGIC, 0);
  out[4] = init.version ?? PROTOCOL_VERSION;
  out.writeUInt32BE((init.length ?? HEADER_SIZE + body.length) >>> 0, 5);
  out[9] = init.type;
  out[10] = init.codec ?? CodecId.Json;
  out[11] = init.compression ?? CompressionId.None;
  out.writeUInt32BE((init.requestId ?? 0) >>> 0, 12);
  body.copy(out, HEADER_SIZE);
  return out;
}

/** Request / Event body: `u16 patternLength | pattern | u32 metadataLength | metadata | data`. */
export function routeBody(pattern: Buffer | string, metadata: Buffer, data: Buffer, patternLength?: number, metadataLength?: number): Buffer {
  const p = typeof pattern === 'string' ? Buffer.from(pattern, 'utf8') : pattern;
  const out = Buffer.allocUnsafe(6 + p.length + metadata.length + data.length);
  out.writeUInt16BE((patternLength ?? p.length) & 0xffff, 0);
  p.copy(out, 2);
  out.writeUInt32BE((metadataLength ?? metadata.length) >>> 0, 2 + p.length);
  metadata.copy(out, 6 + p.length);
  data.copy(out, 6 + p.length + metadata.length);
  return out;
}

/** A random JSON-able value, small. */
export function randomValue(rng: FuzzRandom, depth = 0): unknown {
  const kind = rng.int(0, depth > 2 ? 4 : 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.int(-1e9, 1e9);
    case 3:
      return rng.next() * 1e6;
    case 4:
      return randomText(rng, rng.size(0, 64));
    case 5:
      return Array.from({ length: rng.int(0, 5) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 5); i > 0; i--) o[randomText(rng, rng.int(1, 8))] = randomValue(rng, depth + 1);
      return o;
    }
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789 _-.:/"\\é漢😀';

export function randomText(rng: FuzzRandom, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[rng.int(0, ALPHABET.length - 1)];
  return s;
}

/** `value` in the codec's bytes (JSON text or MessagePack). */
export function encodeValue(codec: number, value: unknown): Buffer {
  return codec === CodecId.MsgPack ? packr.pack(value) : Buffer.from(JSON.stringify(value) ?? '', 'utf8');
}

/** Splits `buf` at up to `cuts` random points (the server must reassemble it). */
export function split(rng: FuzzRandom, buf: Buffer, cuts = 2): Buffer[] {
  if (buf.length < 2 || rng.chance(0.5)) return [buf];
  const points = Array.from({ length: rng.int(1, cuts) }, () => rng.int(1, buf.length - 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) out.push(buf.subarray(at, p));
    at = p;
  }
  out.push(buf.subarray(at));
  return out;
}

/** Bytes that are not UTF-8: overlong, lone continuation, surrogate halves, 0xFF. */
const BAD_UTF8 = [
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
];

export function withBadUtf8(rng: FuzzRandom, text: string): Buffer {
  const parts = [Buffer.from(text, 'utf8')];
  for (let i = rng.int(1, 3); i > 0; i--) parts.splice(rng.int(0, parts.length), 0, rng.pick(BAD_UTF8));
  return Buffer.concat(parts);
}

/** MessagePack that is wrong in ways msgpackr has code paths for (extensions, lengths, records). */
export function msgpackGarbage(rng: FuzzRandom): Buffer {
  switch (rng.int(0, 9)) {
    case 0: // array32 / map32 announcing 4 billion entries
      return Buffer.from([rng.pick([0xdd, 0xdf]), 0xff, 0xff, 0xff, 0xff, 0x01]);
    case 1: // str32 / bin32 longer than the body
      return Buffer.from([rng.pick([0xdb, 0xc6]), 0x7f, 0xff, 0xff, 0xff, 0x61]);
    case 2: // record definition extension (0x72) then a record reference
      return Buffer.from([0x92, 0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x01, 0x40, 0x02]);
    case 3: // structured-clone pointer (0x70) to an id never defined
      return Buffer.from([0xd6, 0x70, 0x00, 0x00, 0x00, 0x07]);
    case 4: // bundled strings (0x62) with a lying size
      return Buffer.from([0xd6, 0x62, 0x7f, 0xff, 0xff, 0xff, 0xa1, 0x61]);
    case 5: // typed array / regexp / error extensions with junk inside
      return Buffer.concat([Buffer.from([0xc7, 0x08, rng.pick([0x74, 0x78, 0x65, 0x42, 0xff, 0x00])]), rng.bytes(8)]);
    case 6: // nesting far deeper than any stack
      return Buffer.alloc(rng.int(5_000, 60_000), 0x91);
    case 7: { // a valid value with random bytes flipped
      const valid = packr.pack(randomValue(rng));
      for (let i = rng.int(1, 3); i > 0 && valid.length > 0; i--) valid[rng.int(0, valid.length - 1)] = rng.u32() & 0xff;
      return valid;
    }
    case 8: // reserved byte 0xc1, then noise
      return Buffer.concat([Buffer.from([0xc1]), rng.bytes(rng.int(0, 32))]);
    default:
      return rng.bytes(rng.size(1, 4096));
  }
}
