import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { fmix32, fnv1a32, ringHash } from '../../../lib/balancer/index.js';

/** Textbook FNV-1a 32 over the bytes Node's own UTF-8 encoder produces. */
function referenceFnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

describe('ring hashing', () => {
  it('matches the published FNV-1a 32 test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of any string, lone surrogates included (as U+FFFD)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => expect(fnv1a32(s)).toBe(referenceFnv1a32(s))));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }), (codes) => {
        const s = String.fromCharCode(...codes);
        expect(fnv1a32(s)).toBe(referenceFnv1a32(s));
      }),
    );
  });

  it('finalizes with murmur3 fmix32 (known values) into an unsigned 32-bit hash', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const h = ringHash(s);
        expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
      }),
    );
  });

  it('spreads similar keys evenly over 16 buckets (chi-square, 15 df, α=0.001)', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[ringHash(`10.0.0.1:8080#${i}`) >>> 28]++;
    const chi = buckets.reduce((sum, observed) => sum + (observed - 1000) ** 2 / 1000, 0);
    expect(chi).toBeLessThan(37.7);
  });
});
