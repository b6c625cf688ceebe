import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Longest token accepted, in UTF-16 units: room for a JWT or an opaque secret, small enough
 * that hashing what a peer sends stays cheap.
 */
export const MAX_AUTH_TOKEN_LENGTH = 4096;

/**
 * Checks the shared token a client presents in its Hello against the tokens a server accepts.
 * Several tokens can be valid at once so a token is rotated without downtime: deploy servers
 * accepting [old, new], move clients to new, then drop old.
 *
 * The comparison leaks neither the tokens nor their length through timing: both sides are hashed
 * to fixed-size SHA-256 digests, compared with `crypto.timingSafeEqual`, and every configured
 * token is compared (no early exit on a match). Only digests are kept in memory.
 */
export class TokenAuthenticator {
  private readonly digests: readonly Buffer[];

  /** @throws InvalidOptionsError (naming `field[i]`) for an empty list or a token that is not a non-empty string. */
  constructor(tokens: readonly string[], field = 'auth.tokens') {
    if (!Array.isArray(tokens) || tokens.length === 0) {
      throw new InvalidOptionsError(field, 'expected a non-empty array of tokens');
    }
    tokens.forEach((token, i) => {
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_AUTH_TOKEN_LENGTH) {
        throw new InvalidOptionsError(
          `${field}[${i}]`,
          `expected a non-empty string of at most ${MAX_AUTH_TOKEN_LENGTH} characters`,
        );
      }
    });
    this.digests = tokens.map(digest);
  }

  /** Number of tokens accepted. */
  get size(): number {
    return this.digests.length;
  }

  /** Whether `candidate` is one of the tokens. Anything that is not a non-empty string fails. */
  verify(candidate: unknown): boolean {
    const valid = typeof candidate === 'string' && candidate.length > 0 && candidate.length <= MAX_AUTH_TOKEN_LENGTH;
    // Hash something even for a missing token, so a wrong and an absent one cost the same.
    const presented = digest(valid ? candidate : '');
    let matches = 0;
    for (const expected of this.digests) matches |= timingSafeEqual(expected, presented) ? 1 : 0;
    return valid && matches === 1;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
