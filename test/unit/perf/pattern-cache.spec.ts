import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { PatternCache } from '../../../lib/protocol/pattern-cache.js';

describe('PatternCache', () => {
  it('always returns what toString would, through hits, misses and slot collisions', () => {
    const cache = new PatternCache(4, 16);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 30 }), fc.nat(7), (patterns, pad) => {
        for (let round = 0; round < 2; round++) {
          for (const bytes of patterns) {
            const buf = Buffer.concat([Buffer.alloc(pad, 0xff), Buffer.from(bytes), Buffer.alloc(3, 0x61)]);
            expect(cache.decode(buf, pad, pad + bytes.length)).toBe(buf.toString('utf8', pad, pad + bytes.length));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not keep the chunk it decoded from', () => {
    const cache = new PatternCache();
    const chunk = Buffer.from('xxecho');
    expect(cache.decode(chunk, 2, 6)).toBe('echo');
    chunk.write('calc', 2);
    expect(cache.decode(chunk, 2, 6)).toBe('calc');
    expect(cache.decode(Buffer.from('echo'), 0, 4)).toBe('echo');
  });
});
