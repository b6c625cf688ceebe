import { describe, expect, it } from '@jest/globals';
import { InvalidOptionsError } from '../../../lib/index.js';
import { MAX_AUTH_TOKEN_LENGTH, TokenAuthenticator } from '../../../lib/security/token-authenticator.js';

describe('TokenAuthenticator', () => {
  const auth = new TokenAuthenticator(['alpha-token', 'beta']);

  it('accepts each configured token', () => {
    expect(auth.verify('alpha-token')).toBe(true);
    expect(auth.verify('beta')).toBe(true);
    expect(auth.size).toBe(2);
  });

  it('refuses wrong tokens, whatever their length: shorter, longer, prefixes, one character off', () => {
    for (const candidate of ['alpha', 'alpha-token!', 'alpha-tokeN', 'bet', 'betaa', 'beta ', ' beta', 'x'.repeat(MAX_AUTH_TOKEN_LENGTH)]) {
      expect(auth.verify(candidate)).toBe(false);
    }
  });

  it('refuses an empty, missing, oversized or non-string token', () => {
    for (const candidate of ['', undefined, null, 42, {}, ['beta'], Buffer.from('beta'), 'beta'.padEnd(MAX_AUTH_TOKEN_LENGTH + 1, 'x')]) {
      expect(auth.verify(candidate)).toBe(false);
    }
  });

  it('compares UTF-8 bytes exactly (no normalization, no case folding)', () => {
    const unicode = new TokenAuthenticator(['café-ü']);
    expect(unicode.verify('café-ü')).toBe(true);
    expect(unicode.verify('cafe\u0301-ü')).toBe(false);
    expect(unicode.verify('CAFÉ-Ü')).toBe(false);
  });

  it('rejects bad configurations, naming the field', () => {
    const fieldOf = (make: () => unknown) => {
      try {
        make();
      } catch (err) {
        return err instanceof InvalidOptionsError ? err.field : err;
      }
      return 'no error';
    };
    expect(fieldOf(() => new TokenAuthenticator([], 'auth.tokens'))).toBe('auth.tokens');
    expect(fieldOf(() => new TokenAuthenticator('token' as never, 'auth.tokens'))).toBe('auth.tokens');
    expect(fieldOf(() => new TokenAuthenticator(['ok', ''], 'auth.tokens'))).toBe('auth.tokens[1]');
    expect(fieldOf(() => new TokenAuthenticator([7 as never], 'auth.tokens'))).toBe('auth.tokens[0]');
    expect(fieldOf(() => new TokenAuthenticator(['y'.repeat(MAX_AUTH_TOKEN_LENGTH + 1)], 'auth.tokens'))).toBe('auth.tokens[0]');
  });
});
