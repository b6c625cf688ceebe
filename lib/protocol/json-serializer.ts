import { isAscii } from 'node:buffer';
import { CodecId } from './frame-header.js';
import { Serializer } from './serializer.js';

const EMPTY = Buffer.alloc(0);
/** From this size on, checking for ASCII (natively, SIMD) costs less than it saves in decoding. */
const ASCII_CHECK_MIN_BYTES = 1024;

/** JSON (UTF-8): the default codec, readable on the wire and compatible with Nest's own transports. */
export class JsonSerializer implements Serializer {
  readonly id = CodecId.Json;
  readonly name = 'json' as const;

  serialize(value: unknown): Buffer {
    const text = this.serializeToString(value);
    return text === '' ? EMPTY : Buffer.from(text, 'utf8');
  }

  serializeToString(value: unknown): string {
    if (value === undefined) return '';
    // JSON.stringify returns undefined for functions and symbols: send them as "no value".
    return JSON.stringify(value) ?? '';
  }

  deserialize(bytes: Buffer): unknown {
    return this.deserializeRange(bytes, 0, bytes.length);
  }

  deserializeRange(bytes: Buffer, start: number, end: number): unknown {
    if (end <= start) return undefined;
    // ASCII text is the same string in latin1, which is a plain copy instead of a UTF-8 decode.
    const ascii = end - start >= ASCII_CHECK_MIN_BYTES && isAscii(bytes.subarray(start, end));
    return JSON.parse(bytes.toString(ascii ? 'latin1' : 'utf8', start, end));
  }
}
