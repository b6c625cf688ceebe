import { describe, expect, it } from '@jest/globals';
import { checkInteger, checkKnownKeys, checkOneOf } from '../../lib/common/option-checks.js';
import { InvalidOptionsError } from '../../lib/errors/index.js';

describe('option checks', () => {
  it('names the bad field and the accepted range', () => {
    expect(() => checkInteger('client.timeout', -1, 1)).toThrow(InvalidOptionsError);
    expect(() => checkInteger('client.timeout', 1.5, 1)).toThrow(/client\.timeout.*integer in \[1,/);
    expect(checkInteger('x', 5, 1, 10)).toBe(5);
  });

  it('rejects unknown keys and values outside an enum', () => {
    expect(() => checkKnownKeys('server', { prot: 1 }, ['port'])).toThrow(/server\.prot.*unknown option/);
    expect(() => checkOneOf('codec', 'xml', ['json', 'msgpack'])).toThrow(/"json", "msgpack"/);
    const err = (() => {
      try {
        checkOneOf('codec', 'xml', ['json']);
      } catch (e) {
        return e as InvalidOptionsError;
      }
    })();
    expect(err?.code).toBe('ERR_INVALID_OPTIONS');
    expect(err?.field).toBe('codec');
  });
});
