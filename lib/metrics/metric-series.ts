import type { RpcErrorKind } from './error-kind.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Label value collecting every pattern/provider past the configured cardinality cap. */
export const OTHER_LABEL = '__other__';

/** Provider label of a call that failed before any provider was picked (no provider, client closed). */
export const NO_PROVIDER_LABEL = '__none__';

/**
 * Opaque handle returned by `RpcMetrics.callStarted()` and passed back when the call ends. It is
 * the cached per-pattern series itself, so starting a call allocates nothing.
 */
export interface RpcCallToken {
  readonly pattern: string;
}

/** Outcome counters and latency of one (pattern, provider) pair. */
export class CallSeries {
  succeeded = 0;
  failed = 0;
  readonly errors = new Map<RpcErrorKind, number>();
  readonly latency: LatencyHistogram;

  constructor(
    readonly pattern: string,
    readonly provider: string,
    bounds: readonly number[],
  ) {
    this.latency = new LatencyHistogram(bounds);
  }
}

/** Everything counted per pattern, and the per-provider series beneath it. */
export class PatternSeries implements RpcCallToken {
  started = 0;
  cancelled = 0;
  retries = 0;
  inFlight = 0;
  /** Events for this pattern a server dropped at its `maxConcurrentRequests` limit. */
  eventsRefused = 0;
  /** Keyed by provider label. */
  readonly calls = new Map<string, CallSeries>();

  constructor(readonly pattern: string) {}
}

/** Connection-level counters of one provider. */
export class ProviderSeries {
  connectionsOpened = 0;
  connectionsClosed = 0;
  reconnectAttempts = 0;
  reconnectSuccesses = 0;
  evictions = 0;
  heartbeatsMissed = 0;

  constructor(readonly provider: string) {}

  get openConnections(): number {
    return this.connectionsOpened - this.connectionsClosed;
  }
}
