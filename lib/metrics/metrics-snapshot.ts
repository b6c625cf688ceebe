import { LatencyHistogram, type HistogramSnapshot } from './latency-histogram.js';
import { NO_PROVIDER_LABEL, type PatternSeries, type ProviderSeries } from './metric-series.js';

/** Error counts by kind (`ERR_RPC_TIMEOUT`, `remote`, `other`, ...), see `RpcErrorKind`. */
export type ErrorCounts = Record<string, number>;

/** Outcomes of one pattern on one provider. */
export interface PatternProviderSnapshot {
  provider: string;
  succeeded: number;
  failed: number;
  errors: ErrorCounts;
  latency: HistogramSnapshot;
}

/** One pattern: started/in-flight/retries are per pattern (the provider is not known yet). */
export interface PatternSnapshot {
  pattern: string;
  started: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  inFlight: number;
  /** Server only: events dropped at its `maxConcurrentRequests` limit. */
  eventsRefused: number;
  errors: ErrorCounts;
  /** Every provider merged. */
  latency: HistogramSnapshot;
  providers: PatternProviderSnapshot[];
}

/** Connection-level view of one provider, plus its call outcomes over every pattern. */
export interface ProviderSnapshot {
  provider: string;
  connectionsOpened: number;
  connectionsClosed: number;
  openConnections: number;
  reconnectAttempts: number;
  reconnectSuccesses: number;
  evictions: number;
  heartbeatsMissed: number;
  succeeded: number;
  failed: number;
}

export interface RpcTotalsSnapshot {
  started: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  retries: number;
  inFlight: number;
  eventsRefused: number;
  errors: ErrorCounts;
  connectionsOpened: number;
  connectionsClosed: number;
  openConnections: number;
  reconnectAttempts: number;
  reconnectSuccesses: number;
  evictions: number;
  heartbeatsMissed: number;
}

/**
 * What `RpcMetrics.snapshot()` returns: plain data (numbers, strings, arrays, records, `null`),
 * safe for `JSON.stringify` and detached from the live counters. Durations in ms. Patterns and
 * providers past the cardinality caps appear as `__other__`; calls that failed before a provider
 * was picked appear under provider `__none__`.
 */
export interface RpcMetricsSnapshot {
  /** Histogram bucket upper bounds in ms (`+Inf` implicit). */
  latencyBucketsMs: number[];
  /** True once some pattern was folded into `__other__`. */
  patternLimitReached: boolean;
  /** True once some provider was folded into `__other__`. */
  providerLimitReached: boolean;
  totals: RpcTotalsSnapshot;
  patterns: PatternSnapshot[];
  providers: ProviderSnapshot[];
}

/** Copies the live series into a {@link RpcMetricsSnapshot}, with per-pattern, per-provider and total roll-ups. */
export function buildSnapshot(
  patternSeries: Iterable<PatternSeries>,
  providerSeries: Iterable<ProviderSeries>,
  bounds: readonly number[],
  limits: { patternLimitReached: boolean; providerLimitReached: boolean },
): RpcMetricsSnapshot {
  const totals: RpcMetricsSnapshot['totals'] = {
    started: 0, succeeded: 0, failed: 0, cancelled: 0, retries: 0, inFlight: 0, eventsRefused: 0, errors: {},
    connectionsOpened: 0, connectionsClosed: 0, openConnections: 0,
    reconnectAttempts: 0, reconnectSuccesses: 0, evictions: 0, heartbeatsMissed: 0,
  };
  const byProvider = new Map<string, ProviderSnapshot>();
  const providerEntry = (provider: string): ProviderSnapshot => {
    let entry = byProvider.get(provider);
    if (!entry) {
      entry = {
        provider, connectionsOpened: 0, connectionsClosed: 0, openConnections: 0, reconnectAttempts: 0,
        reconnectSuccesses: 0, evictions: 0, heartbeatsMissed: 0, succeeded: 0, failed: 0,
      };
      byProvider.set(provider, entry);
    }
    return entry;
  };
  for (const p of providerSeries) {
    const entry = providerEntry(p.provider);
    entry.connectionsOpened = p.connectionsOpened;
    entry.connectionsClosed = p.connectionsClosed;
    entry.openConnections = p.openConnections;
    entry.reconnectAttempts = p.reconnectAttempts;
    entry.reconnectSuccesses = p.reconnectSuccesses;
    entry.evictions = p.evictions;
    entry.heartbeatsMissed = p.heartbeatsMissed;
    totals.connectionsOpened += p.connectionsOpened;
    totals.connectionsClosed += p.connectionsClosed;
    totals.openConnections += p.openConnections;
    totals.reconnectAttempts += p.reconnectAttempts;
    totals.reconnectSuccesses += p.reconnectSuccesses;
    totals.evictions += p.evictions;
    totals.heartbeatsMissed += p.heartbeatsMissed;
  }
  const patterns: PatternSnapshot[] = [];
  for (const s of patternSeries) {
    const merged = new LatencyHistogram(bounds);
    const perProvider: PatternProviderSnapshot[] = [];
    const errors: ErrorCounts = {};
    let succeeded = 0;
    let failed = 0;
    for (const call of s.calls.values()) {
      const callErrors = toRecord(call.errors);
      perProvider.push({
        provider: call.provider,
        succeeded: call.succeeded,
        failed: call.failed,
        errors: callErrors,
        latency: call.latency.snapshot(),
      });
      succeeded += call.succeeded;
      failed += call.failed;
      addCounts(errors, callErrors);
      merged.merge(call.latency);
      if (call.provider !== NO_PROVIDER_LABEL) {
        const provider = providerEntry(call.provider);
        provider.succeeded += call.succeeded;
        provider.failed += call.failed;
      }
    }
    patterns.push({
      pattern: s.pattern,
      started: s.started,
      succeeded,
      failed,
      cancelled: s.cancelled,
      retries: s.retries,
      inFlight: s.inFlight,
      eventsRefused: s.eventsRefused,
      errors,
      latency: merged.snapshot(),
      providers: perProvider,
    });
    totals.started += s.started;
    totals.succeeded += succeeded;
    totals.failed += failed;
    totals.cancelled += s.cancelled;
    totals.retries += s.retries;
    totals.inFlight += s.inFlight;
    totals.eventsRefused += s.eventsRefused;
    addCounts(totals.errors, errors);
  }
  return {
    latencyBucketsMs: [...bounds],
    patternLimitReached: limits.patternLimitReached,
    providerLimitReached: limits.providerLimitReached,
    totals,
    patterns,
    providers: [...byProvider.values()],
  };
}

function toRecord(counts: ReadonlyMap<string, number>): ErrorCounts {
  const out: ErrorCounts = {};
  for (const [kind, n] of counts) out[kind] = n;
  return out;
}

function addCounts(into: ErrorCounts, from: ErrorCounts): void {
  for (const kind of Object.keys(from)) into[kind] = (into[kind] ?? 0) + from[kind]!;
}
