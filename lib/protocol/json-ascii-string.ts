import type { JsonStringScanner } from './json-string-scan.js';

/**
 * A faster `JSON.stringify(string)` for long ASCII strings (base64, hex, text payloads).
 *
 * V8's JSON.stringify checks every character for escaping one at a time (about 1.4 ns per
 * character on a small cloud VM: 23 µs for a 16 KiB string, the largest cost of a 16 KiB call).
 * Here the string is copied into the frame by a native write and the bytes are then checked
 * by a {@link JsonStringScanner} (SIMD); a string that needs escaping (a quote, a backslash or a
 * control character) is reported so the caller falls back to JSON.stringify. The bytes written
 * are exactly those of JSON.stringify(value): an ASCII string without those characters is its
 * own JSON literal.
 */

/** Below this length JSON.stringify is fast enough and the scan does not pay off. */
export const ASCII_LITERAL_MIN_LENGTH = 1024;

const QUOTE = 0x22;

/** True for a string whose UTF-8 form is one byte per UTF-16 unit, i.e. pure ASCII. */
export function isAscii(value: string): boolean {
  // Any non-ASCII unit takes two or more bytes (a lone surrogate three), so equal lengths
  // mean ASCII; Buffer.byteLength runs natively over the whole string.
  return Buffer.byteLength(value, 'utf8') === value.length;
}

/**
 * Writes `"value"` at `offset` (`value.length + 2` bytes) for an ASCII `value`. Returns false
 * when `value` needs escaping; the bytes written are then garbage and the caller must encode
 * the value another way.
 */
export function writeAsciiLiteral(target: Buffer, offset: number, value: string, scanner: JsonStringScanner): boolean {
  target[offset] = QUOTE;
  target.write(value, offset + 1, value.length, 'latin1');
  target[offset + 1 + value.length] = QUOTE;
  return scanner.isPlain(target, offset + 1, offset + 1 + value.length);
}
