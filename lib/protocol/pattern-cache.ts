/**
 * Decoded patterns by their UTF-8 bytes, so the few patterns a service answers are not decoded
 * into a new string for every request (a string per request is also one more Map hash for the
 * handler lookup). Direct-mapped and fixed-size: a peer sending made-up patterns only replaces
 * entries, it never grows the cache. Owned by one codec instance; nothing here is global.
 */
export class PatternCache {
  private readonly bytes: (Buffer | undefined)[];
  private readonly strings: string[];
  private readonly mask: number;

  /** `size` is rounded up to a power of two. */
  constructor(size = 64, private readonly maxLength = 64) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(1, size)));
    this.mask = slots - 1;
    this.bytes = new Array<Buffer | undefined>(slots).fill(undefined);
    this.strings = new Array<string>(slots).fill('');
  }

  /** `buf.toString('utf8', start, end)`, from the cache when these bytes were seen before. */
  decode(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length > this.maxLength) return buf.toString('utf8', start, end);
    // FNV-1a over the bytes: cheap for short patterns, and spreads similar names apart.
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
    const slot = (hash >>> 0) & this.mask;
    const cached = this.bytes[slot];
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached[i] === buf[start + i]) i++;
      if (i === length) return this.strings[slot];
    }
    const text = buf.toString('utf8', start, end);
    // A copy: `buf` is a socket chunk that must not be pinned by the cache.
    this.bytes[slot] = Buffer.from(buf.subarray(start, end));
    this.strings[slot] = text;
    return text;
  }
}
