import { describe, expect, it, jest } from '@jest/globals';
import { createRequire } from 'node:module';

/**
 * What makes the comparison constant-time, checked structurally (timings are too noisy on a
 * shared CI box to prove anything): every verify() compares fixed-size digests with
 * crypto.timingSafeEqual, once per configured token, whether the candidate matches the first
 * token, the last, none, or is missing.
 */
const realCrypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
const comparisons: Array<[number, number]> = [];
jest.unstable_mockModule('node:crypto', () => ({
  ...realCrypto,
  timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    comparisons.push([a.byteLength, b.byteLength]);
    return realCrypto.timingSafeEqual(a, b);
  },
}));
const { TokenAuthenticator } = await import('../../../lib/security/token-authenticator.js');

describe('TokenAuthenticator comparison', () => {
  const tokens = ['first-token', 'a-much-longer-second-token-value', 'x'];
  const auth = new TokenAuthenticator(tokens);

  it.each([
    ['the first token', 'first-token', true],
    ['the last token', 'x', true],
    ['a wrong token of another length', 'nope', false],
    ['a prefix of a token', 'first', false],
    ['a missing token', undefined, false],
    ['an empty token', '', false],
  ])('%s: one 32-byte digest comparison per configured token, no early exit', (_name, candidate, expected) => {
    comparisons.length = 0;
    expect(auth.verify(candidate)).toBe(expected);
    expect(comparisons).toEqual(tokens.map(() => [32, 32]));
  });
});
