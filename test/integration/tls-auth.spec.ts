import { beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { ConnectionClosedError, MsRpcClient, NoProviderError, TlsHandshakeError } from '../../lib/index.js';
import { sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { secureFixtures, type SecureProvider } from '../support/secure-provider.js';
import { makeTestPki, type TestPki } from '../support/test-certs.js';

/**
 * TLS and mTLS end to end (real Nest provider, real client, loopback), with certificates made at
 * test time. Every misconfiguration must surface as a typed error well within the call timeout,
 * run no handler, and leave no socket open on either side.
 */
describe('TLS and mTLS', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });

  const { provider, client, track } = secureFixtures(2000);

  /** After the client closed: nothing is left on the server side. */
  async function expectNothingOpen(p: SecureProvider, c: MsRpcClient): Promise<void> {
    await c.close();
    await waitUntil(() => p.sockets.size === 0 && p.server.connectionCount === 0, 2000, 'server sockets to close');
  }

  const serverTls = () => ({ key: pki.server.key, cert: pki.server.cert });
  const mtls = () => ({ ...serverTls(), ca: pki.ca, requestCert: true, rejectUnauthorized: true });

  it('serves send, emit and streams over TLS, and heartbeats keep the TLS connection alive', async () => {
    // idleTimeout 300 ms: without pings over TLS the server would cut the idle connection.
    const p = await provider({ tls: serverTls(), idleTimeout: 300, clientHeartbeatInterval: 100 });
    const { client: c, states } = client(p, { tls: { ca: pki.ca } });

    await expect(firstValueFrom(c.send('echo', { hello: 'tls' }))).resolves.toEqual({ hello: 'tls' });
    await expect(lastValueFrom(c.send('stream', { count: 3, every: 5 }).pipe(toArray()))).resolves.toEqual([1, 2, 3]);
    await lastValueFrom(c.emit('note', 'over tls'), { defaultValue: undefined });
    await waitUntil(() => p.handlers.notes.length === 1, 2000, 'the event');
    expect(p.handlers.notes).toEqual(['over tls']);
    // A batch of concurrent calls exercises write batching through the TLS socket.
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => firstValueFrom(c.send('echo', i))));
    expect(many).toEqual(Array.from({ length: 200 }, (_, i) => i));

    await sleep(650);
    await expect(firstValueFrom(c.send('echo', 'still here'))).resolves.toBe('still here');
    expect(states.filter((s) => s.to === 'ready')).toHaveLength(1);
    expect(p.accepted()).toBe(1);
    expect(p.peers).toEqual([{ protocol: 'TLSv1.3', authorized: false, clientCn: undefined }]);
    await expectNothingOpen(p, c);
  });

  it('mTLS: a client with a certificate signed by the CA gets in', async () => {
    const p = await provider({ tls: mtls() });
    const { client: c } = client(p, { tls: { ca: pki.ca, key: pki.client.key, cert: pki.client.cert } });
    await expect(firstValueFrom(c.send('echo', 'mutual'))).resolves.toBe('mutual');
    expect(p.peers).toEqual([{ protocol: 'TLSv1.3', authorized: true, clientCn: 'ms-rpc test client' }]);
    await expectNothingOpen(p, c);
  });

  it.each([
    ['without a client certificate', () => ({ ca: pki.ca }), /a client certificate is required/],
    [
      'with a certificate from another CA',
      () => ({ ca: pki.ca, key: pki.strangerClient.key, cert: pki.strangerClient.cert }),
      /client certificate rejected \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    ],
  ])('mTLS: a client %s fails fast with TlsHandshakeError and no handler runs', async (_name, tls, reason) => {
    const p = await provider({ tls: mtls() });
    const { client: c } = client(p, { tls: tls(), timeout: 3000 });
    const result = await timed(firstValueFrom(c.send('echo', 'let me in')));
    expect(result.error).toBeInstanceOf(TlsHandshakeError);
    expect(result.error).toMatchObject({ code: 'ERR_TLS_HANDSHAKE', address: p.address });
    expect((result.error as Error).message).toMatch(reason);
    expect(result.ms).toBeLessThan(1000);
    // New calls while the watchdog backs off fail at once too.
    const again = await timed(firstValueFrom(c.send('echo', 'again')));
    expect(again.error).toBeInstanceOf(TlsHandshakeError);
    expect(again.ms).toBeLessThan(50);
    expect(p.handlers.invocations).toEqual([]);
    expect(p.peers.every((peer) => !peer.authorized)).toBe(true);
    // The server logged the refusal once, with the client's address.
    const warnings = () => p.logger.lines.filter((l) => l.level === 'warn' && /^127\.0\.0\.1:\d+: refused: TlsHandshakeError/.test(l.message));
    await waitUntil(() => warnings().length > 0, 2000, 'the warning');
    expect(warnings()[0].message).toMatch(reason);
    await expectNothingOpen(p, c);
  });

  it('a client trusting another CA refuses the server: TlsHandshakeError naming the verification failure', async () => {
    const p = await provider({ tls: serverTls() });
    const { client: c } = client(p, { tls: { ca: pki.otherCa } });
    const result = await timed(firstValueFrom(c.send('echo', 'x')));
    expect(result.error).toBeInstanceOf(TlsHandshakeError);
    expect((result.error as Error).message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE.*not trusted/);
    expect(result.error).toMatchObject({ cause: expect.objectContaining({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) });
    expect(result.ms).toBeLessThan(1000);
    // connect() reports the same typed error, and so does an emit.
    await expect(c.connect()).rejects.toBeInstanceOf(TlsHandshakeError);
    await expect(firstValueFrom(c.emit('note', 'x'), { defaultValue: undefined })).rejects.toBeInstanceOf(TlsHandshakeError);
    expect(p.handlers.invocations).toEqual([]);
    await expectNothingOpen(p, c);
  });

  it('a TLS client against a plain TCP server fails fast with TlsHandshakeError', async () => {
    // The server says Hello at once: not a TLS record, which OpenSSL reports as such.
    const p = await provider({});
    const { client: c } = client(p, { tls: { ca: pki.ca } });
    const result = await timed(firstValueFrom(c.send('echo', 'x')));
    expect(result.error).toBeInstanceOf(TlsHandshakeError);
    expect((result.error as Error).message).toMatch(/wrong version number.*does not speak TLS/);
    expect(result.ms).toBeLessThan(1000);
    expect(p.handlers.invocations).toEqual([]);
    await expectNothingOpen(p, c);
  });

  it('a TLS client against a plain server that authenticates fails fast, typed, with the cause', async () => {
    // That server waits for a Hello, gets a ClientHello instead and hangs up without a word: to
    // the client, a connection closed mid-handshake. The call fails as soon as that attempt did.
    const p = await provider({ auth: { tokens: ['t0ken'] } });
    const { client: c, states } = client(p, { tls: { ca: pki.ca }, authToken: 't0ken', timeout: 3000 });
    const result = await timed(firstValueFrom(c.send('echo', 'x')));
    expect(result.error).toBeInstanceOf(NoProviderError);
    expect((result.error as Error).cause).toBeInstanceOf(ConnectionClosedError);
    expect((result.error as Error).message).toMatch(/during the TLS handshake/);
    expect(result.ms).toBeLessThan(1000);
    const failure = states.find((s) => s.to === 'transient-failure')?.reason;
    expect(failure).toBeInstanceOf(ConnectionClosedError);
    expect(failure?.message).toMatch(/during the TLS handshake/);
    expect(p.handlers.invocations).toEqual([]);
    await expectNothingOpen(p, c);
  });

  it('a plain client against a TLS server fails fast, typed, and nothing is left open', async () => {
    const p = await provider({ tls: serverTls() });
    const { client: c, states } = client(p, { timeout: 3000 });
    const result = await timed(firstValueFrom(c.send('echo', 'x')));
    // The server drops what is not a TLS handshake; to the client that is a connection closed
    // before the Hello: the call fails as soon as that attempt did, naming the provider.
    expect(result.error).toBeInstanceOf(NoProviderError);
    expect((result.error as Error).message).toContain(`${p.address}: Connection to ${p.address} closed`);
    expect((result.error as Error).cause).toBeInstanceOf(ConnectionClosedError);
    expect(result.ms).toBeLessThan(1000);
    expect(states.find((s) => s.to === 'transient-failure')?.reason).toBeInstanceOf(ConnectionClosedError);
    expect(p.handlers.invocations).toEqual([]);
    expect(p.logger.lines.some((l) => l.level === 'warn' && /^127\.0\.0\.1:\d+: TLS handshake failed: wrong version number/.test(l.message))).toBe(true);
    await expectNothingOpen(p, c);
  });

  it('a socket that never starts its TLS handshake is closed after handshakeTimeout, logged once', async () => {
    const p = await provider({ tls: serverTls(), handshakeTimeout: 200 });
    const started = performance.now();
    const silent = connect({ host: '127.0.0.1', port: p.port });
    track({ close: async () => void silent.destroy() });
    silent.on('error', () => undefined);
    const closedAfter = await new Promise<number>((resolve) => silent.once('close', () => resolve(performance.now() - started)));
    expect(closedAfter).toBeGreaterThanOrEqual(180);
    expect(closedAfter).toBeLessThan(1500);
    expect(p.server.connectionCount).toBe(0);
    expect(p.logger.lines.filter((l) => l.level === 'warn' && /TLS handshake/.test(l.message)).map((l) => l.message)).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+: TLS handshake failed: TLS handshake timeout/),
    ]);
  });

  it('failed handshakes are logged rate-limited: one line at once, then one line with the count', async () => {
    const p = await provider({ tls: serverTls() });
    const failures = 25;
    // Plain-text clients (an HTTP probe, a plain MsRpcClient): each one a failed handshake.
    await Promise.all(
      Array.from({ length: failures }, async () => {
        const probe = connect({ host: '127.0.0.1', port: p.port });
        track({ close: async () => void probe.destroy() });
        probe.on('error', () => undefined);
        probe.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await new Promise<void>((resolve) => probe.once('close', () => resolve()));
      }),
    );
    const tlsWarnings = () => p.logger.lines.filter((l) => l.level === 'warn' && /TLS handshake failed/.test(l.message)).map((l) => l.message);
    expect(tlsWarnings()).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+: TLS handshake failed: http request/)]);
    // The rest are counted, not lost: the interval's line (here at close) gives their number.
    await p.close();
    expect(tlsWarnings()).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+: TLS handshake failed/),
      expect.stringMatching(new RegExp(`^${failures - 1} more in the last 10 s; the last: 127\\.0\\.0\\.1:\\d+: TLS handshake failed: http request`)),
    ]);
  });

  it('a peer dribbling its ClientHello a byte at a time is cut at handshakeTimeout, logged once', async () => {
    // The deadline counts from accept: bytes trickling in do not extend it.
    const p = await provider({ tls: serverTls(), handshakeTimeout: 300 });
    const started = performance.now();
    const slow = connect({ host: '127.0.0.1', port: p.port });
    track({ close: async () => void slow.destroy() });
    slow.on('error', () => undefined);
    // A TLS handshake record header announcing 512 bytes, then one byte every 50 ms.
    slow.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    const drip = setInterval(() => slow.write(Buffer.from([0x01])), 50);
    const closedAfter = await new Promise<number>((resolve) =>
      slow.once('close', () => {
        clearInterval(drip);
        resolve(performance.now() - started);
      }),
    );
    expect(closedAfter).toBeGreaterThanOrEqual(280);
    expect(closedAfter).toBeLessThan(1500);
    await sleep(50);
    const warnings = p.logger.lines.filter((l) => l.level === 'warn' && /TLS handshake/.test(l.message));
    expect(warnings.map((l) => l.message)).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+: TLS handshake failed: TLS handshake timeout/)]);
  });
});
