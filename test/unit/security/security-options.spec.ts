import { describe, expect, it } from '@jest/globals';
import { InvalidOptionsError } from '../../../lib/index.js';
import { resolveChannelOptions } from '../../../lib/channel/channel-options.js';
import { resolveClientOptions } from '../../../lib/client/client-options.js';
import { resolveServerOptions } from '../../../lib/server/server-options.js';

/** Catches the InvalidOptionsError of `make` and returns it (fails the test when none is thrown). */
function optionError(make: () => unknown): InvalidOptionsError {
  try {
    make();
  } catch (err) {
    if (err instanceof InvalidOptionsError) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

const PEM_GARBAGE = '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n';

describe('TLS and auth options', () => {
  it('server: handshakeTimeout defaults to 5000 ms; tls and auth are off by default', () => {
    const o = resolveServerOptions();
    expect(o.handshakeTimeout).toBe(5000);
    expect(o.tls).toBeUndefined();
    expect(o.auth).toBeUndefined();
  });

  it('server: auth needs a non-empty list of non-empty tokens, and nothing else', () => {
    expect(optionError(() => resolveServerOptions({ auth: { tokens: [] } })).field).toBe('MsRpcServer.auth.tokens');
    expect(optionError(() => resolveServerOptions({ auth: { tokens: ['a', ''] } })).field).toBe('MsRpcServer.auth.tokens[1]');
    expect(optionError(() => resolveServerOptions({ auth: 'token' as never })).field).toBe('MsRpcServer.auth');
    expect(optionError(() => resolveServerOptions({ auth: { tokens: ['a'], token: 'b' } as never })).field).toBe('MsRpcServer.auth.token');
    expect(resolveServerOptions({ auth: { tokens: ['a', 'b'] } }).auth).toEqual({ tokens: ['a', 'b'] });
  });

  it('server: handshakeTimeout must be a positive integer', () => {
    expect(optionError(() => resolveServerOptions({ handshakeTimeout: 0 })).field).toBe('MsRpcServer.handshakeTimeout');
    expect(optionError(() => resolveServerOptions({ handshakeTimeout: 1.5 })).field).toBe('MsRpcServer.handshakeTimeout');
  });

  it('server: tls needs a certificate, and Node must accept it', () => {
    expect(optionError(() => resolveServerOptions({ tls: {} })).message).toMatch(/needs a certificate/);
    expect(optionError(() => resolveServerOptions({ tls: 'yes' as never })).field).toBe('MsRpcServer.tls');
    const bad = optionError(() => resolveServerOptions({ tls: { key: PEM_GARBAGE, cert: PEM_GARBAGE } }));
    expect(bad.field).toBe('MsRpcServer.tls');
    expect(bad.message).toMatch(/Node rejected the TLS options/);
  });

  it('client: a bad token is refused without echoing it', () => {
    const err = optionError(() => resolveClientOptions({ providers: ['127.0.0.1:1'], authToken: '' }));
    expect(err.field).toBe('MsRpcClient.authToken');
    const long = 'secret-'.repeat(1000);
    const tooLong = optionError(() => resolveClientOptions({ providers: ['127.0.0.1:1'], authToken: long }));
    expect(tooLong.field).toBe('MsRpcClient.authToken');
    expect(tooLong.message).not.toContain('secret-');
  });

  it('client and channel: tls is passed through, minus the address, which comes from each provider', () => {
    const tls = { rejectUnauthorized: false, servername: 'svc.internal' };
    expect(resolveClientOptions({ providers: ['127.0.0.1:1'], tls }).tls).toBe(tls);
    expect(resolveChannelOptions({ tls, authToken: 't' }, 'channel')).toMatchObject({ tls, authToken: 't' });
    expect(optionError(() => resolveClientOptions({ providers: ['127.0.0.1:1'], tls: { host: 'x' } })).field).toBe('MsRpcClient.tls.host');
    expect(optionError(() => resolveChannelOptions({ tls: { port: 1 } }, 'channel')).field).toBe('channel.tls.port');
    // Node would silently skip an unparsable CA; this fails at startup instead.
    expect(optionError(() => resolveChannelOptions({ tls: { ca: PEM_GARBAGE } }, 'channel')).field).toBe('channel.tls.ca');
    expect(optionError(() => resolveChannelOptions({ tls: { ca: ['hello'] } }, 'channel')).field).toBe('channel.tls.ca[0]');
  });
});
