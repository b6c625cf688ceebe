import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { PatternSeries, ProviderSeries } from './metric-series.js';
import type { RpcMetricsOptions } from './metrics-options.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

type Labels = ReadonlyArray<readonly [string, string]>;

/** Escapes a label value for the text format: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed (quotes stay as they are). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go-`ParseFloat`-compatible spelling, including the special values. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** ms → s without float noise in `le` (0.7 / 1000 would print as 0.0006999999999999999). */
function msToSeconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

class Writer {
  private readonly lines: string[] = [];

  constructor(private readonly constLabels: Labels) {}

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Labels, value: number): void {
    const all = this.constLabels.length > 0 ? [...this.constLabels, ...labels] : labels;
    const text = all.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
    this.lines.push(`${name}${text ? `{${text}}` : ''} ${formatSampleValue(value)}`);
  }

  toString(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

/**
 * Renders the series in the Prometheus text exposition format 0.0.4: `# HELP`/`# TYPE` before
 * each family's samples, counters named `*_total`, the latency histogram as
 * `<prefix>_call_duration_seconds_{bucket,sum,count}` in seconds (Prometheus base unit; the
 * snapshot keeps ms). Every family is written even without samples, so dashboards see a stable set.
 */
export function renderPrometheus(
  patternIterable: Iterable<PatternSeries>,
  providerIterable: Iterable<ProviderSeries>,
  options: Pick<RpcMetricsOptions, 'latencyBucketsMs' | 'constLabels'>,
  prefix: string,
): string {
  if (typeof prefix !== 'string' || !METRIC_NAME.test(prefix)) {
    throw new InvalidOptionsError('prefix', `expected a Prometheus metric name prefix, got ${JSON.stringify(prefix)}`);
  }
  const patterns = [...patternIterable];
  const providers = [...providerIterable];
  const out = new Writer(Object.entries(options.constLabels));
  const n = (suffix: string) => `${prefix}_${suffix}`;

  const perPattern = (suffix: string, type: 'counter' | 'gauge', help: string, read: (s: PatternSeries) => number) => {
    out.family(n(suffix), type, help);
    for (const s of patterns) out.sample(n(suffix), [['pattern', s.pattern]], read(s));
  };
  const perCall = (suffix: string, help: string, read: (c: { succeeded: number; failed: number }) => number) => {
    out.family(n(suffix), 'counter', help);
    for (const s of patterns) {
      for (const c of s.calls.values()) out.sample(n(suffix), [['pattern', s.pattern], ['provider', c.provider]], read(c));
    }
  };
  const perProvider = (suffix: string, type: 'counter' | 'gauge', help: string, read: (p: ProviderSeries) => number) => {
    out.family(n(suffix), type, help);
    for (const p of providers) out.sample(n(suffix), [['provider', p.provider]], read(p));
  };

  perPattern('calls_started_total', 'counter', 'Request/response calls started.', (s) => s.started);
  perCall('calls_succeeded_total', 'Calls completed with a response, by pattern and answering provider.', (c) => c.succeeded);
  perCall('calls_failed_total', 'Calls completed with an error, by pattern and provider.', (c) => c.failed);

  out.family(n('call_errors_total'), 'counter', 'Failed calls by error code (ERR_* for local errors, remote for errors answered by the handler, other).');
  for (const s of patterns) {
    for (const c of s.calls.values()) {
      for (const [code, count] of c.errors) {
        out.sample(n('call_errors_total'), [['pattern', s.pattern], ['provider', c.provider], ['code', code]], count);
      }
    }
  }

  perPattern('calls_cancelled_total', 'counter', 'Calls the caller unsubscribed from before an outcome.', (s) => s.cancelled);
  perPattern('call_retries_total', 'counter', 'Calls dispatched again after a failed attempt.', (s) => s.retries);
  perPattern('calls_in_flight', 'gauge', 'Calls started and not yet completed.', (s) => s.inFlight);
  perPattern('events_refused_total', 'counter', 'Events a server dropped at its maxConcurrentRequests limit.', (s) => s.eventsRefused);

  const hist = n('call_duration_seconds');
  const les = options.latencyBucketsMs.map((ms) => formatSampleValue(msToSeconds(ms)));
  les.push('+Inf');
  out.family(hist, 'histogram', 'Call duration until the response (or error), in seconds.');
  for (const s of patterns) {
    for (const c of s.calls.values()) {
      const labels: Labels = [['pattern', s.pattern], ['provider', c.provider]];
      const cumulative = c.latency.cumulative();
      for (let i = 0; i < cumulative.length; i++) out.sample(`${hist}_bucket`, [...labels, ['le', les[i]!]], cumulative[i]!);
      out.sample(`${hist}_sum`, labels, c.latency.sum / 1000);
      out.sample(`${hist}_count`, labels, c.latency.count);
    }
  }

  perProvider('connections_opened_total', 'counter', 'Connections that became ready.', (p) => p.connectionsOpened);
  perProvider('connections_closed_total', 'counter', 'Ready connections that closed or were lost.', (p) => p.connectionsClosed);
  perProvider('connections_open', 'gauge', 'Connections currently ready.', (p) => p.openConnections);
  perProvider('reconnect_attempts_total', 'counter', 'Reconnect attempts made after a connection was lost.', (p) => p.reconnectAttempts);
  perProvider('reconnect_successes_total', 'counter', 'Lost connections that became ready again.', (p) => p.reconnectSuccesses);
  perProvider('evictions_total', 'counter', 'Providers evicted after failing every reconnect attempt.', (p) => p.evictions);
  perProvider('heartbeats_missed_total', 'counter', 'Connections declared dead by heartbeat timeout.', (p) => p.heartbeatsMissed);
  return out.toString();
}
