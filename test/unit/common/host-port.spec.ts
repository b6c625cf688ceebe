import { describe, expect, it } from '@jest/globals';
import { hostPort } from '../../../lib/common/host-port.js';

describe('hostPort', () => {
  it('writes IPv6 literals in brackets, names and IPv4 as they are', () => {
    expect(hostPort('127.0.0.1', 8848)).toBe('127.0.0.1:8848');
    expect(hostPort('localhost', 9848)).toBe('localhost:9848');
    expect(hostPort('::1', 8848)).toBe('[::1]:8848');
    expect(hostPort('fe80::1:2', 0)).toBe('[fe80::1:2]:0');
  });
});
