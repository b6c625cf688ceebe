import { describe, expect, it } from '@jest/globals';
import { ConnectionClosedError, InvalidOptionsError, RpcTimeoutError } from '../../../lib/errors/index.js';
import { escapeLabelValue, NO_PROVIDER_LABEL, RpcMetrics } from '../../../lib/metrics/index.js';
import { parsePrometheus, type ParsedFamily } from './prometheus-parser.js';

const A = '10.0.0.1:4000';

function value(family: ParsedFamily | undefined, name: string, labels: Record<string, string>): number | undefined {
  return family?.samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

function traffic(metrics: RpcMetrics): void {
  for (const ms of [0.3, 3, 3, 40]) metrics.callSucceeded(metrics.callStarted('sum'), A, ms);
  metrics.callFailed(metrics.callStarted('sum'), A, 1000, new RpcTimeoutError('sum', 1000));
  metrics.callFailed(metrics.callStarted('sum'), A, 7, { status: 'error', message: 'denied' });
  metrics.callFailed(metrics.callStarted('get'), NO_PROVIDER_LABEL, 1, new ConnectionClosedError(A, 'gone'));
  metrics.callStarted('get');
  const conn = {};
  metrics.connectionStateChanged(conn, A, 'connecting', 'ready');
  metrics.connectionStateChanged(conn, A, 'ready', 'transient-failure', new ConnectionClosedError(A, 'heartbeat timeout: x'));
  metrics.connectionStateChanged(conn, A, 'transient-failure', 'connecting');
  metrics.connectionStateChanged(conn, A, 'connecting', 'ready');
  metrics.providerEvicted('10.0.0.9:4000');
}

describe('toPrometheus', () => {
  it('writes valid text format 0.0.4 with the expected families and values', () => {
    const metrics = new RpcMetrics();
    traffic(metrics);
    const text = metrics.toPrometheus();
    const families = parsePrometheus(text);
    expect([...families.values()].map((f) => [f.name, f.type])).toEqual([
      ['msrpc_calls_started_total', 'counter'],
      ['msrpc_calls_succeeded_total', 'counter'],
      ['msrpc_calls_failed_total', 'counter'],
      ['msrpc_call_errors_total', 'counter'],
      ['msrpc_calls_cancelled_total', 'counter'],
      ['msrpc_call_retries_total', 'counter'],
      ['msrpc_calls_in_flight', 'gauge'],
      ['msrpc_events_refused_total', 'counter'],
      ['msrpc_call_duration_seconds', 'histogram'],
      ['msrpc_connections_opened_total', 'counter'],
      ['msrpc_connections_closed_total', 'counter'],
      ['msrpc_connections_open', 'gauge'],
      ['msrpc_reconnect_attempts_total', 'counter'],
      ['msrpc_reconnect_successes_total', 'counter'],
      ['msrpc_evictions_total', 'counter'],
      ['msrpc_heartbeats_missed_total', 'counter'],
    ]);
    for (const f of families.values()) expect(f.help).toBeTruthy();
    const get = (name: string) => families.get(name);
    expect(value(get('msrpc_calls_started_total'), 'msrpc_calls_started_total', { pattern: 'sum' })).toBe(6);
    expect(value(get('msrpc_calls_started_total'), 'msrpc_calls_started_total', { pattern: 'get' })).toBe(2);
    expect(value(get('msrpc_calls_in_flight'), 'msrpc_calls_in_flight', { pattern: 'get' })).toBe(1);
    expect(value(get('msrpc_calls_succeeded_total'), 'msrpc_calls_succeeded_total', { pattern: 'sum', provider: A })).toBe(4);
    const errors = get('msrpc_call_errors_total');
    expect(value(errors, 'msrpc_call_errors_total', { pattern: 'sum', provider: A, code: 'ERR_RPC_TIMEOUT' })).toBe(1);
    expect(value(errors, 'msrpc_call_errors_total', { pattern: 'sum', provider: A, code: 'remote' })).toBe(1);
    expect(
      value(errors, 'msrpc_call_errors_total', { pattern: 'get', provider: NO_PROVIDER_LABEL, code: 'ERR_CONNECTION_CLOSED' }),
    ).toBe(1);

    const hist = get('msrpc_call_duration_seconds')!;
    const sumOnA = { pattern: 'sum', provider: A };
    expect(value(hist, 'msrpc_call_duration_seconds_count', sumOnA)).toBe(6);
    expect(value(hist, 'msrpc_call_duration_seconds_sum', sumOnA)).toBeCloseTo(1.0533, 12);
    const les = hist.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.pattern === 'sum').map((s) => s.labels.le);
    expect(les).toEqual([
      '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf',
    ]);
    expect(value(hist, 'msrpc_call_duration_seconds_bucket', { ...sumOnA, le: '0.005' })).toBe(3);
    expect(value(hist, 'msrpc_call_duration_seconds_bucket', { ...sumOnA, le: '0.01' })).toBe(4);
    expect(value(hist, 'msrpc_call_duration_seconds_bucket', { ...sumOnA, le: '1' })).toBe(6);

    const perProvider = (name: string, provider = A) => value(get(name), name, { provider });
    expect(perProvider('msrpc_connections_opened_total')).toBe(2);
    expect(perProvider('msrpc_connections_closed_total')).toBe(1);
    expect(perProvider('msrpc_connections_open')).toBe(1);
    expect(perProvider('msrpc_reconnect_attempts_total')).toBe(1);
    expect(perProvider('msrpc_reconnect_successes_total')).toBe(1);
    expect(perProvider('msrpc_heartbeats_missed_total')).toBe(1);
    expect(perProvider('msrpc_evictions_total', '10.0.0.9:4000')).toBe(1);
  });

  it('escapes backslash, double quote and line feed in label values', () => {
    const nasty = 'a"b\\c\nd}{,=x';
    expect(escapeLabelValue(nasty)).toBe('a\\"b\\\\c\\nd}{,=x');
    const metrics = new RpcMetrics({ constLabels: { app: 'say "hi"\\\n' } });
    metrics.callFailed(metrics.callStarted(nasty), 'h"ost\\:1', 2, new Error('boom'));
    const text = metrics.toPrometheus('my_app:rpc');
    expect(text).toContain(`pattern="a\\"b\\\\c\\nd}{,=x"`);
    expect(text.split('\n').every((line) => !line.includes('\r'))).toBe(true);
    const families = parsePrometheus(text);
    const failed = families.get('my_app:rpc_calls_failed_total')!;
    expect(failed.samples).toEqual([
      { name: 'my_app:rpc_calls_failed_total', labels: { app: 'say "hi"\\\n', pattern: nasty, provider: 'h"ost\\:1' }, value: 1 },
    ]);
    const errors = families.get('my_app:rpc_call_errors_total')!;
    expect(errors.samples[0]!.labels.code).toBe('other');
  });

  it('writes HELP/TYPE for every family even before any traffic', () => {
    const families = parsePrometheus(new RpcMetrics().toPrometheus());
    expect(families.size).toBe(16);
    for (const f of families.values()) expect(f.samples).toEqual([]);
  });

  it('rejects an invalid prefix', () => {
    expect(() => new RpcMetrics().toPrometheus('bad-prefix')).toThrow(InvalidOptionsError);
    expect(() => new RpcMetrics().toPrometheus('')).toThrow(/"prefix"/);
  });

  it('the strict parser catches broken output', () => {
    const ok = '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="1"} 1\n';
    expect(() => parsePrometheus(ok)).not.toThrow();
    expect(() => parsePrometheus('x_total 1\n')).toThrow(/before its TYPE/);
    expect(() => parsePrometheus(ok.replace('"1"', '"\\t"'))).toThrow(/illegal escape/);
    expect(() => parsePrometheus(ok.replace('"1"', '"a"b"'))).toThrow();
    expect(() => parsePrometheus(ok.replace(' 1\n', ' one\n'))).toThrow(/bad value/);
    expect(() => parsePrometheus(`${ok}x_total{a="1"} 2\n`)).toThrow(/duplicate series/);
    expect(() => parsePrometheus(ok.replace('x_total{', 'x_total {'))).toThrow();
    expect(() => parsePrometheus(ok.slice(0, -1))).toThrow(/line feed/);
    expect(() =>
      parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ).toThrow(/cumulative/);
  });
});
