import { describe, expect, it } from '@jest/globals';
import { resolveClientOptions } from '../../../lib/client/client-options.js';
import { DEFAULT_CONNECTION_OPTIONS, resolveConnectionOptions } from '../../../lib/connection/connection-options.js';
import { InvalidOptionsError } from '../../../lib/errors/invalid-options-error.js';
import { DEFAULT_SERVER_OPTIONS, resolveServerOptions } from '../../../lib/server/server-options.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    return (err as InvalidOptionsError).field;
  }
  return undefined;
}

/** The heartbeat settings of client and server, and how their defaults fit together. */
describe('heartbeat options', () => {
  it('idle connections ping every 20 s by default, three times per server idle window', () => {
    const o = resolveConnectionOptions();
    expect(o.heartbeatInterval).toBe(3000);
    expect(o.idleHeartbeatInterval).toBe(20_000);
    expect(o.heartbeatTimeout).toBe(10_000);
    expect(DEFAULT_SERVER_OPTIONS.idleTimeout).toBe(60_000);
    expect(DEFAULT_SERVER_OPTIONS.idleTimeout).toBeGreaterThanOrEqual(3 * DEFAULT_CONNECTION_OPTIONS.idleHeartbeatInterval);
    // No Hello adaptation with the defaults on both sides: at most half of the server's window.
    expect(DEFAULT_CONNECTION_OPTIONS.idleHeartbeatInterval).toBeLessThanOrEqual(DEFAULT_SERVER_OPTIONS.idleTimeout / 2);
    expect(DEFAULT_SERVER_OPTIONS.clientHeartbeatInterval).toBe(DEFAULT_CONNECTION_OPTIONS.heartbeatInterval);
  });

  it('accepts 0 (same as heartbeatInterval) and anything at least heartbeatInterval', () => {
    expect(resolveConnectionOptions({ idleHeartbeatInterval: 0 }).idleHeartbeatInterval).toBe(0);
    expect(resolveConnectionOptions({ heartbeatInterval: 100, idleHeartbeatInterval: 100 }).idleHeartbeatInterval).toBe(100);
    // Pings off: the default idle interval stays valid (pings resume only if a server's Hello asks).
    expect(resolveConnectionOptions({ heartbeatInterval: 0, heartbeatTimeout: 0 }).idleHeartbeatInterval).toBe(20_000);
  });

  it.each([
    [{ heartbeatInterval: 1000, idleHeartbeatInterval: 999 }, 'idleHeartbeatInterval'],
    [{ idleHeartbeatInterval: -1 }, 'idleHeartbeatInterval'],
    [{ idleHeartbeatInterval: 1.5 }, 'idleHeartbeatInterval'],
    [{ idleHeartbeatInterval: '20000' as unknown as number }, 'idleHeartbeatInterval'],
  ])('rejects %j naming the field', (partial, field) => {
    expect(fieldOf(() => resolveConnectionOptions(partial))).toBe(field);
    expect(fieldOf(() => resolveConnectionOptions(partial, 'MsRpcClient'))).toBe(`MsRpcClient.${field}`);
  });

  it('is a known client option', () => {
    const providers = ['127.0.0.1:1'];
    expect(resolveClientOptions({ providers, idleHeartbeatInterval: 15_000 }).idleHeartbeatInterval).toBe(15_000);
    expect(fieldOf(() => resolveClientOptions({ providers, idleHeartbeatInterval: 10, heartbeatInterval: 100 }))).toBe(
      'MsRpcClient.idleHeartbeatInterval',
    );
  });

  it('the server: idleTimeout must exceed clientHeartbeatInterval, and errors name the field', () => {
    expect(resolveServerOptions().idleTimeout).toBe(60_000);
    expect(resolveServerOptions({ idleTimeout: 10_000 }).idleTimeout).toBe(10_000);
    expect(resolveServerOptions({ idleTimeout: 0 }).idleTimeout).toBe(0);
    expect(fieldOf(() => resolveServerOptions({ idleTimeout: 3000 }))).toBe('MsRpcServer.idleTimeout');
    expect(fieldOf(() => resolveServerOptions({ idleTimeout: 400, clientHeartbeatInterval: 100 }))).toBeUndefined();
    expect(fieldOf(() => resolveServerOptions({ clientHeartbeatInterval: 0 }))).toBe('MsRpcServer.clientHeartbeatInterval');
  });
});
