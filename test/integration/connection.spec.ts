import { afterEach, describe, expect, it } from '@jest/globals';
import { Socket } from 'node:net';
import { ConnectionClosedError, ConnectTimeoutError, type ConnectionState } from '../../lib/index.js';
import { Connection } from '../../lib/connection/connection.js';
import { resolveConnectionOptions } from '../../lib/connection/connection-options.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';
import { recordingLogger, timed } from '../support/loopback-utils.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * The Connection on its own. A never-answering remote address cannot be used (loopback only), so
 * the socketFactory injection point hands the connection a socket that never emits 'connect',
 * which is what a SYN into a black-holed network looks like from Node.
 */
describe('Connection (socketFactory injection, loopback)', () => {
  const open: Array<{ close(): unknown }> = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    for (const s of sockets.splice(0)) s.destroy();
  });

  const neverConnects = () => {
    const socket = new Socket();
    sockets.push(socket);
    return socket;
  };

  function connection(options: Parameters<typeof resolveConnectionOptions>[0], port = 9, factory: 'real' | (() => Socket) = neverConnects) {
    const states: Array<{ from: ConnectionState; to: ConnectionState; reason?: Error }> = [];
    const c = new Connection(
      '127.0.0.1',
      port,
      resolveConnectionOptions({ heartbeatInterval: 100, heartbeatTimeout: 300, ...options }),
      new MessageCodec(resolveProtocolOptions()),
      { onStateChange: (_c, from, to, reason) => states.push({ from, to, reason }) },
      recordingLogger(),
      undefined,
      factory === 'real' ? undefined : factory,
    );
    open.push(c);
    return { c, states };
  }

  it('bounds a connect attempt that never completes by connectAttemptTimeout', async () => {
    const { c, states } = connection({ connectAttemptTimeout: 200 });
    const result = await timed(c.connect());
    expect(result.error).toBeInstanceOf(ConnectTimeoutError);
    expect(result.error).toMatchObject({ code: 'ERR_CONNECT_TIMEOUT', timeoutMs: 200, address: '127.0.0.1:9' });
    expect(result.ms).toBeGreaterThanOrEqual(190);
    expect(result.ms).toBeLessThan(1000);
    expect(c.state).toBe('transient-failure');
    expect(states.map((s) => `${s.from}->${s.to}`)).toEqual(['idle->connecting', 'connecting->transient-failure']);
    expect(sockets[0].destroyed).toBe(true);
  });

  it('close() during a connect attempt rejects connect() at once instead of leaving it pending', async () => {
    const { c } = connection({ connectAttemptTimeout: 5000 });
    const attempt = timed(c.connect());
    c.close('shutting down');
    const result = await attempt;
    expect(result.error).toBeInstanceOf(ConnectionClosedError);
    expect(result.ms).toBeLessThan(100);
    expect(c.state).toBe('closed');
    await expect(c.connect()).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  describe('against a real provider', () => {
    let provider: TestProvider;
    afterEach(async () => provider?.close());

    it('is ready only after the Hello, and knows the server settings by then', async () => {
      provider = await startTestProvider({ maxFrameSize: 100_000, idleTimeout: 6000 });
      const { c, states } = connection({ connectAttemptTimeout: 2000 }, provider.port, 'real');
      await c.connect();
      expect(c.state).toBe('ready');
      expect(c.serverSettings).toMatchObject({ idleTimeoutMs: 6000, maxFrameSize: 100_000 });
      // It also says what it serves, so that calls nobody serves fail at once.
      expect(c.serverSettings?.patterns).toContain('echo');
      expect(c.serves('echo', 'patterns')).toBe(true);
      expect(c.serves('nope', 'patterns')).toBe(false);
      expect(states.map((s) => s.to)).toEqual(['connecting', 'ready']);
    });
  });
});
