import { isAscii } from 'node:buffer';
import { CodecId } from './frame-header.js';
import { JsonStringScanner } from './json-string-scan.js';
import { Serializer } from './serializer.js';

const EMPTY = Buffer.alloc(0);
/** From this size on, checking for ASCII (natively, SIMD) costs less than it saves in decoding. */
const ASCII_CHECK_MIN_BYTES = 1024;
const QUOTE = 0x22;

/** JSON (UTF-8): the default codec, readable on the wire and compatible with Nest's own transports. */
export class JsonSerializer implements Serializer {
  readonly id = CodecId.Json;
  readonly name = 'json' as const;
  /** Checks long string literals on both ways (see json-string-scan.ts); one per serializer. */
  readonly strings = new JsonStringScanner();

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
    if (end - start < ASCII_CHECK_MIN_BYTES) return JSON.parse(bytes.toString('utf8', start, end));
    // A long string literal without escapes is its own content: a latin1 copy instead of
    // JSON.parse's character-by-character scan (5.5 µs for 16 KiB). Anything else, including
    // what JSON.parse would reject, takes the ordinary path.
    if (bytes[start] === QUOTE && bytes[end - 1] === QUOTE && this.strings.isPlain(bytes, start + 1, end - 1)) {
      return bytes.toString('latin1', start + 1, end - 1);
    }
    // ASCII text is the same string in latin1, which is a plain copy instead of a UTF-8 decode.
    const ascii = isAscii(bytes.subarray(start, end));
    return JSON.parse(bytes.toString(ascii ? 'latin1' : 'utf8', start, end));
  }
}
