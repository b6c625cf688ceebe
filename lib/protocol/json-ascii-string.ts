/**
 * A faster `JSON.stringify(string)` for long ASCII strings (base64, hex, text payloads).
 *
 * V8's JSON.stringify checks every character for escaping one at a time (about 1.4 ns per
 * character on a small cloud VM: 23 µs for a 16 KiB string, the largest cost of a 16 KiB call).
 * Here the string is copied into the frame by a native write and the bytes are then checked
 * four at a time; a string that needs escaping (a quote, a backslash or a control character)
 * is reported so the caller falls back to JSON.stringify. The bytes written are exactly those
 * of JSON.stringify(value): an ASCII string without those characters is its own JSON literal.
 */

/** Below this length JSON.stringify is fast enough and the word loop does not pay off. */
export const ASCII_LITERAL_MIN_LENGTH = 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

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
export function writeAsciiLiteral(target: Buffer, offset: number, value: string): boolean {
  target[offset] = QUOTE;
  target.write(value, offset + 1, value.length, 'latin1');
  target[offset + 1 + value.length] = QUOTE;
  return !needsEscape(target, offset + 1, offset + 1 + value.length);
}

/** Whether any byte in [start, end) is below 0x20, a quote or a backslash. */
function needsEscape(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  // Bytes up to the first 4-aligned address of the underlying memory, one by one.
  const base = buf.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) {
    if (isSpecial(buf[i])) return true;
    i++;
  }
  const words = (end - i) >> 2;
  if (words > 0) {
    const view = new Int32Array(buf.buffer, base + i, words);
    // SWAR: for each byte b of x, (b - k) & ~b has its top bit set when b < k (no borrow can
    // reach a byte above a hit without a hit below it, so "any" is exact). b < 0x20 directly;
    // b == 0x22 / 0x5c as a zero byte of x ^ 0x22222222 / x ^ 0x5c5c5c5c. Non-ASCII bytes
    // (>= 0x80) never match. Accumulated without branches in blocks (a branch per word costs
    // more than scanning on past a hit, which is the rare case).
    for (let k = 0; k < words; ) {
      const stop = Math.min(words, k + 256);
      let acc = 0;
      for (; k < stop; k++) {
        const x = view[k];
        const q = x ^ 0x22222222;
        const b = x ^ 0x5c5c5c5c;
        acc |= ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b);
      }
      if ((acc & 0x80808080) !== 0) return true;
    }
    i += words << 2;
  }
  for (; i < end; i++) {
    if (isSpecial(buf[i])) return true;
  }
  return false;
}

function isSpecial(byte: number): boolean {
  return byte < 0x20 || byte === QUOTE || byte === BACKSLASH;
}
