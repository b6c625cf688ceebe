import { describe, expect, it } from '@jest/globals';
import {
  ClientClosedError,
  ConnectionClosedError,
  FrameTooLargeError,
  InvalidOptionsError,
  NoProviderError,
  RpcTimeoutError,
} from '../../../lib/errors/index.js';
import {
  classifyError,
  DEFAULT_RPC_METRICS_OPTIONS,
  isHeartbeatTimeout,
  NO_PROVIDER_LABEL,
  OTHER_LABEL,
  resolveRpcMetricsOptions,
  RpcMetrics,
} from '../../../lib/metrics/index.js';

const A = '10.0.0.1:4000';
const B = '10.0.0.2:4000';
const heartbeatLoss = () => new ConnectionClosedError(A, 'heartbeat timeout: nothing received for 3000 ms');

/** 4 × sum on A (one remote error), 2 × sum on B (one timeout), 1 × get that found no provider. */
function knownTraffic(metrics: RpcMetrics): void {
  for (let i = 0; i < 4; i++) {
    const call = metrics.callStarted('sum');
    if (i === 3) metrics.callFailed(call, A, 4, { status: 'error', message: 'denied' });
    else metrics.callSucceeded(call, A, 2);
  }
  const ok = metrics.callStarted('sum');
  metrics.callSucceeded(ok, B, 20);
  const slow = metrics.callStarted('sum');
  metrics.callRetried(slow);
  metrics.callFailed(slow, B, 1000, new RpcTimeoutError('sum', 1000, { address: B }));
  const none = metrics.callStarted('get');
  metrics.callFailed(none, NO_PROVIDER_LABEL, 5000, new NoProviderError('users'));
}

describe('RpcMetrics calls', () => {
  it('counts started/succeeded/failed, errors and latency per pattern and provider', () => {
    const metrics = new RpcMetrics();
    knownTraffic(metrics);
    const snap = metrics.snapshot();
    expect(snap.totals).toMatchObject({
      started: 7,
      succeeded: 4,
      failed: 3,
      retries: 1,
      inFlight: 0,
      errors: { remote: 1, ERR_RPC_TIMEOUT: 1, ERR_NO_PROVIDER: 1 },
    });
    const sum = snap.patterns.find((p) => p.pattern === 'sum')!;
    expect(sum).toMatchObject({ started: 6, succeeded: 4, failed: 2, retries: 1, errors: { remote: 1, ERR_RPC_TIMEOUT: 1 } });
    expect(sum.latency.count).toBe(6);
    expect(sum.latency.sum).toBe(2 * 3 + 4 + 20 + 1000);
    const onA = sum.providers.find((p) => p.provider === A)!;
    expect(onA).toMatchObject({ succeeded: 3, failed: 1, errors: { remote: 1 } });
    expect(onA.latency.count).toBe(4);
    expect(onA.latency.buckets.find((b) => b.le === '2.5')!.count).toBe(3);
    expect(onA.latency.buckets.find((b) => b.le === '5')!.count).toBe(4);
    const get = snap.patterns.find((p) => p.pattern === 'get')!;
    expect(get.providers).toHaveLength(1);
    expect(get.providers[0]).toMatchObject({ provider: NO_PROVIDER_LABEL, failed: 1, errors: { ERR_NO_PROVIDER: 1 } });
    // Per-provider call roll-up; the "no provider" pseudo-provider is not a provider.
    expect(snap.providers.map((p) => [p.provider, p.succeeded, p.failed])).toEqual([
      [A, 3, 1],
      [B, 1, 1],
    ]);
  });

  it('tracks in-flight calls and cancellations', () => {
    const metrics = new RpcMetrics();
    const a = metrics.callStarted('stream');
    const b = metrics.callStarted('stream');
    metrics.callStarted('other');
    expect(metrics.inFlight).toBe(3);
    metrics.callCancelled(a);
    metrics.callSucceeded(b, A, 1);
    expect(metrics.inFlight).toBe(1);
    const stream = metrics.snapshot().patterns.find((p) => p.pattern === 'stream')!;
    expect(stream).toMatchObject({ started: 2, cancelled: 1, succeeded: 1, inFlight: 0 });
    expect(stream.latency.count).toBe(1);
  });

  it('hands out the cached series as the call token (no allocation per call)', () => {
    const metrics = new RpcMetrics();
    const first = metrics.callStarted('sum');
    expect(metrics.callStarted('sum')).toBe(first);
    expect(first.pattern).toBe('sum');
  });

  it('snapshot is plain JSON and detached from the live counters', () => {
    const metrics = new RpcMetrics();
    knownTraffic(metrics);
    metrics.connectionStateChanged({}, A, 'connecting', 'ready');
    const snap = metrics.snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    metrics.callSucceeded(metrics.callStarted('sum'), A, 1);
    expect(snap.totals.started).toBe(7);
  });
});

describe('error classification', () => {
  it('uses the MsRpcError code, "remote" for answered errors, "other" for anything else', () => {
    expect(classifyError(new RpcTimeoutError('p', 10))).toBe('ERR_RPC_TIMEOUT');
    expect(classifyError(new ConnectionClosedError(A, 'closed by peer'))).toBe('ERR_CONNECTION_CLOSED');
    expect(classifyError(new NoProviderError('svc'))).toBe('ERR_NO_PROVIDER');
    expect(classifyError(new FrameTooLargeError(10, 5))).toBe('ERR_FRAME_TOO_LARGE');
    expect(classifyError(new ClientClosedError())).toBe('ERR_CLIENT_CLOSED');
    // Errors cross the wire as plain values; a peer-supplied code must not become a label value.
    expect(classifyError({ status: 'error', message: 'x', code: 'ERR_RPC_TIMEOUT' })).toBe('remote');
    expect(classifyError({ status: 'error', message: 'made-up', code: 'E_RANDOM_123' })).toBe('remote');
    expect(classifyError('denied')).toBe('remote');
    expect(classifyError(new TypeError('serializer blew up'))).toBe('other');
  });

  it('recognizes a heartbeat-timeout connection loss', () => {
    expect(isHeartbeatTimeout(heartbeatLoss())).toBe(true);
    expect(isHeartbeatTimeout(new ConnectionClosedError(A, 'closed by peer'))).toBe(false);
    expect(isHeartbeatTimeout(new Error('heartbeat timeout: nothing received'))).toBe(false);
    expect(isHeartbeatTimeout(undefined)).toBe(false);
  });
});

describe('RpcMetrics connections', () => {
  it('derives opened/closed, reconnects and missed heartbeats from state changes', () => {
    const metrics = new RpcMetrics();
    const conn = {};
    const other = {};
    metrics.connectionStateChanged(conn, A, 'idle', 'connecting');
    metrics.connectionStateChanged(conn, A, 'connecting', 'ready');
    metrics.connectionStateChanged(other, A, 'idle', 'connecting');
    metrics.connectionStateChanged(other, A, 'connecting', 'ready');
    metrics.connectionStateChanged(conn, A, 'ready', 'transient-failure', heartbeatLoss());
    metrics.connectionStateChanged(conn, A, 'transient-failure', 'connecting');
    metrics.connectionStateChanged(conn, A, 'connecting', 'transient-failure', new Error('ECONNREFUSED'));
    metrics.connectionStateChanged(conn, A, 'transient-failure', 'connecting');
    metrics.connectionStateChanged(conn, A, 'connecting', 'ready');
    metrics.connectionStateChanged(other, A, 'ready', 'closed');
    const [a] = metrics.snapshot().providers;
    expect(a).toEqual({
      provider: A,
      connectionsOpened: 3,
      connectionsClosed: 2,
      openConnections: 1,
      reconnectAttempts: 2,
      reconnectSuccesses: 1,
      evictions: 0,
      heartbeatsMissed: 1,
      succeeded: 0,
      failed: 0,
    });
  });

  it('counts evictions and the explicit hooks', () => {
    const metrics = new RpcMetrics();
    metrics.providerEvicted(B);
    metrics.heartbeatMissed(B);
    metrics.reconnectAttempt(B);
    metrics.reconnectSucceeded(B);
    metrics.connectionOpened(B);
    metrics.connectionClosed(B, heartbeatLoss());
    expect(metrics.snapshot().totals).toMatchObject({
      evictions: 1,
      heartbeatsMissed: 2,
      reconnectAttempts: 1,
      reconnectSuccesses: 1,
      connectionsOpened: 1,
      connectionsClosed: 1,
      openConnections: 0,
    });
  });
});

describe('cardinality caps', () => {
  it('folds patterns past maxPatterns into __other__', () => {
    const metrics = new RpcMetrics({ maxPatterns: 3 });
    for (let i = 0; i < 10; i++) metrics.callSucceeded(metrics.callStarted(`p${i}`), A, 1);
    const snap = metrics.snapshot();
    expect(snap.patterns.map((p) => [p.pattern, p.started, p.succeeded])).toEqual([
      ['p0', 1, 1],
      ['p1', 1, 1],
      ['p2', 1, 1],
      [OTHER_LABEL, 7, 7],
    ]);
    expect(snap.patternLimitReached).toBe(true);
    // Known patterns keep their own series after the cap is hit.
    metrics.callStarted('p1');
    expect(metrics.snapshot().patterns[1]!.started).toBe(2);
  });

  it('keeps memory bounded under a flood of made-up patterns and providers', () => {
    const metrics = new RpcMetrics();
    for (let i = 0; i < 50_000; i++) {
      metrics.callFailed(metrics.callStarted(`made-up-${i}`), `h${i}:1`, 1, 'no handler');
    }
    const snap = metrics.snapshot();
    expect(snap.patterns).toHaveLength(DEFAULT_RPC_METRICS_OPTIONS.maxPatterns + 1);
    expect(snap.providers).toHaveLength(DEFAULT_RPC_METRICS_OPTIONS.maxProviders + 1);
    expect(snap.providerLimitReached).toBe(true);
    const other = snap.patterns.find((p) => p.pattern === OTHER_LABEL)!;
    expect(other.started).toBe(49_000);
    expect(other.providers.map((p) => p.provider)).toEqual([OTHER_LABEL]);
    expect(snap.totals).toMatchObject({ started: 50_000, failed: 50_000, errors: { remote: 50_000 } });
  });
});

describe('resolveRpcMetricsOptions', () => {
  it('fills the documented defaults', () => {
    expect(resolveRpcMetricsOptions()).toEqual(DEFAULT_RPC_METRICS_OPTIONS);
    expect(DEFAULT_RPC_METRICS_OPTIONS.maxPatterns).toBe(1000);
  });

  it('names the bad field', () => {
    expect(() => new RpcMetrics({ maxPatterns: 0 })).toThrow(/"RpcMetrics\.maxPatterns"/);
    expect(() => new RpcMetrics({ latencyBucketsMs: [1, 1] })).toThrow(/"RpcMetrics\.latencyBucketsMs\[1\]"/);
    expect(() => new RpcMetrics({ latencyBucketsMs: [] })).toThrow(InvalidOptionsError);
    expect(() => new RpcMetrics({ constLabels: { pattern: 'x' } })).toThrow(/"RpcMetrics\.constLabels\.pattern"/);
    expect(() => new RpcMetrics({ constLabels: { 'bad-name': 'x' } })).toThrow(InvalidOptionsError);
    expect(() => new RpcMetrics({ maxPatern: 5 } as never)).toThrow(/"RpcMetrics\.maxPatern".*unknown/);
  });
});
