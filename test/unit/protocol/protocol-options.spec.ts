import { describe, expect, it } from '@jest/globals';
import { InvalidOptionsError } from '../../../lib/errors/index.js';
import {
  DEFAULT_PROTOCOL_OPTIONS,
  PROTOCOL_OPTION_KEYS,
  ProtocolOptions,
  resolveProtocolOptions,
} from '../../../lib/protocol/protocol-options.js';
import { thrownBy } from './protocol-test-helpers.js';

describe('resolveProtocolOptions', () => {
  it('fills defaults and does not share the frozen default object', () => {
    const o = resolveProtocolOptions();
    expect(o).toEqual({
      codec: 'json',
      compression: 'none',
      compressThreshold: 8192,
      maxFrameSize: 8 * 1024 * 1024,
      maxBodySize: 8 * 1024 * 1024,
      maxPatternLength: 1024,
    });
    expect(o).not.toBe(DEFAULT_PROTOCOL_OPTIONS);
    expect(Object.isFrozen(DEFAULT_PROTOCOL_OPTIONS)).toBe(true);
    expect([...PROTOCOL_OPTION_KEYS].sort()).toEqual(Object.keys(o).sort());
  });

  it('picks only protocol fields out of a larger options object and ignores undefined', () => {
    const partial = { codec: 'msgpack', maxFrameSize: 64, port: 1234, compression: undefined } as Partial<ProtocolOptions>;
    const o = resolveProtocolOptions(partial);
    expect(o.codec).toBe('msgpack');
    expect(o.maxFrameSize).toBe(64);
    expect(o.compression).toBe('none');
    expect('port' in o).toBe(false);
  });

  it('accepts the documented bounds', () => {
    expect(() =>
      resolveProtocolOptions({ maxFrameSize: 0xffffffff, maxBodySize: 2 ** 31 - 1, maxPatternLength: 65535, compressThreshold: 0 }),
    ).not.toThrow();
    expect(() => resolveProtocolOptions({ maxFrameSize: 64, maxBodySize: 64, maxPatternLength: 1 })).not.toThrow();
  });

  it.each<[keyof ProtocolOptions, unknown]>([
    ['codec', 'xml'],
    ['compression', 'brotli'],
    ['compressThreshold', -1],
    ['compressThreshold', 1.5],
    ['maxFrameSize', 63],
    ['maxFrameSize', 2 ** 32],
    ['maxFrameSize', '1024'],
    ['maxBodySize', 2 ** 31],
    ['maxBodySize', NaN],
    ['maxPatternLength', 0],
    ['maxPatternLength', 65536],
  ])('rejects %s = %p naming the field (with prefix)', (field, value) => {
    const err = thrownBy(() => resolveProtocolOptions({ [field]: value } as Partial<ProtocolOptions>, 'client')) as InvalidOptionsError;
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect(err.code).toBe('ERR_INVALID_OPTIONS');
    expect(err.field).toBe(`client.${field}`);
    const bare = thrownBy(() => resolveProtocolOptions({ [field]: value } as Partial<ProtocolOptions>)) as InvalidOptionsError;
    expect(bare.field).toBe(field);
  });
});
