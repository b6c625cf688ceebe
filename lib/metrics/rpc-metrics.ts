import type { ConnectionState } from '../connection/connection-state.js';
import { classifyError, isHeartbeatTimeout } from './error-kind.js';
import {
  CallSeries,
  NO_PROVIDER_LABEL,
  OTHER_LABEL,
  PatternSeries,
  ProviderSeries,
  type RpcCallToken,
} from './metric-series.js';
import { resolveRpcMetricsOptions, type RpcMetricsOptions } from './metrics-options.js';
import { buildSnapshot, type RpcMetricsSnapshot } from './metrics-snapshot.js';
import { renderPrometheus } from './prometheus-exporter.js';

/**
 * Call and connection metrics of one client or server, per pattern and per provider. Nest-free
 * and dependency-free; read it with {@link snapshot} (JSON) or {@link toPrometheus} (text format).
 *
 * Hot-path hooks (`callStarted`, `callSucceeded`, `callFailed`) do two Map lookups and a few
 * increments: series are created on first use and cached, and the token handed out by
 * `callStarted` is the cached pattern series itself. Pattern and provider label values are capped
 * (see {@link RpcMetricsOptions}); the excess is counted under `__other__`.
 *
 * Durations are measured by the caller (any ms clock, e.g. `performance.now()` or the `Clock`
 * the component already has), so this class owns no timers.
 */
export class RpcMetrics {
  readonly options: RpcMetricsOptions;
  private readonly patterns = new Map<string, PatternSeries>();
  private readonly providers = new Map<string, ProviderSeries>();
  /** Connections lost at least once and not ready since: their next `ready` is a reconnect success. */
  private readonly recovering = new WeakSet<object>();
  /** Last state reported per connection, to count each transition once. */
  private readonly lastState = new WeakMap<object, ConnectionState>();
  private patternLimitReached = false;
  private providerLimitReached = false;

  constructor(options: Partial<RpcMetricsOptions> = {}) {
    this.options = resolveRpcMetricsOptions(options);
  }

  // ---- calls -------------------------------------------------------------------------------

  /** @internal A request/response call begins (before a provider is picked). Pass the token back when it ends. */
  callStarted(pattern: string): RpcCallToken {
    const series = this.patternSeries(pattern);
    series.started++;
    series.inFlight++;
    return series;
  }

  /** @internal The call completed with a response (stream: its End). `provider` is the address that answered. */
  callSucceeded(token: RpcCallToken, provider: string, durationMs: number): void {
    const series = token as PatternSeries;
    series.inFlight--;
    const call = this.callSeries(series, provider);
    call.succeeded++;
    call.latency.observe(durationMs);
  }

  /**
   * The call failed. `error` is what the caller got; it is classified with `classifyError()`
   * (MsRpcError → its code, a value answered by the peer → `remote`, other Error → `other`).
   * Use `NO_PROVIDER_LABEL` as `provider` when no provider was picked.
   * @internal Recorded by the transport itself.
   */
  callFailed(token: RpcCallToken, provider: string, durationMs: number, error: unknown): void {
    const series = token as PatternSeries;
    series.inFlight--;
    const call = this.callSeries(series, provider);
    call.failed++;
    const kind = classifyError(error);
    call.errors.set(kind, (call.errors.get(kind) ?? 0) + 1);
    call.latency.observe(durationMs);
  }

  /** @internal The caller unsubscribed before an outcome: leaves in-flight, counts no outcome or latency. */
  callCancelled(token: RpcCallToken): void {
    const series = token as PatternSeries;
    series.inFlight--;
    series.cancelled++;
  }

  /**
   * A server dropped an event for `pattern`: too many handlers were running (an event has nobody
   * to answer, so this counter is how it shows).
   * @internal Recorded by the transport itself.
   */
  eventRefused(pattern: string): void {
    this.patternSeries(pattern).eventsRefused++;
  }

  /** @internal The call is dispatched again (another provider, or the same one after a failure). */
  callRetried(token: RpcCallToken): void {
    (token as PatternSeries).retries++;
  }

  // ---- connections -------------------------------------------------------------------------

  /**
   * Derives the connection metrics from a connection's state changes; feed it every change
   * (`connection` is any per-connection identity, used only as a WeakSet key):
   * `→ ready` opened (and a reconnect success if the connection had been lost),
   * `ready →` closed (and a missed heartbeat if the reason was a heartbeat timeout),
   * `transient-failure → connecting` a reconnect attempt.
   * @internal Recorded by the transport itself.
   */
  connectionStateChanged(connection: object, provider: string, from: ConnectionState, to: ConnectionState, reason?: Error): void {
    // Clients sharing a channel cache (MsRpcModule) each relay the same transition to the shared
    // metrics; a transition always changes the state, so a repeated `to` is such a duplicate.
    if (this.lastState.get(connection) === to) return;
    this.lastState.set(connection, to);
    if (to === 'ready') {
      this.connectionOpened(provider);
      if (this.recovering.delete(connection)) this.reconnectSucceeded(provider);
      return;
    }
    if (from === 'ready') this.connectionClosed(provider, reason);
    if (to === 'transient-failure') this.recovering.add(connection);
    else if (to === 'closed') this.recovering.delete(connection);
    if (from === 'transient-failure' && to === 'connecting') this.reconnectAttempt(provider);
  }

  /** @internal Recorded by the transport itself. */
  connectionOpened(provider: string): void {
    this.providerSeries(provider).connectionsOpened++;
  }

  /** @internal An open connection went away; a heartbeat-timeout `reason` also counts a missed heartbeat. */
  connectionClosed(provider: string, reason?: Error): void {
    const series = this.providerSeries(provider);
    series.connectionsClosed++;
    if (isHeartbeatTimeout(reason)) series.heartbeatsMissed++;
  }

  /** @internal A connection was declared dead by heartbeat timeout (when not reported via `connectionClosed`). */
  heartbeatMissed(provider: string): void {
    this.providerSeries(provider).heartbeatsMissed++;
  }

  /** @internal Recorded by the transport itself. */
  reconnectAttempt(provider: string): void {
    this.providerSeries(provider).reconnectAttempts++;
  }

  /** @internal Recorded by the transport itself. */
  reconnectSucceeded(provider: string): void {
    this.providerSeries(provider).reconnectSuccesses++;
  }

  /** @internal The provider failed every reconnect attempt and left the instance cache. */
  providerEvicted(provider: string): void {
    this.providerSeries(provider).evictions++;
  }

  // ---- reading -----------------------------------------------------------------------------

  /** Current in-flight calls over every pattern. */
  get inFlight(): number {
    let n = 0;
    for (const series of this.patterns.values()) n += series.inFlight;
    return n;
  }

  /** Prometheus text exposition format 0.0.4 (`Content-Type: text/plain; version=0.0.4`). */
  toPrometheus(prefix = 'msrpc'): string {
    return renderPrometheus(this.patterns.values(), this.providers.values(), this.options, prefix);
  }

  /** Plain JSON-serializable copy of every counter (see {@link RpcMetricsSnapshot}). */
  snapshot(): RpcMetricsSnapshot {
    return buildSnapshot(this.patterns.values(), this.providers.values(), this.options.latencyBucketsMs, {
      patternLimitReached: this.patternLimitReached,
      providerLimitReached: this.providerLimitReached,
    });
  }

  // ---- series ------------------------------------------------------------------------------

  private patternSeries(pattern: string): PatternSeries {
    let series = this.patterns.get(pattern);
    if (series) return series;
    // `>=` also holds once __other__ itself exists (size is then maxPatterns + 1).
    if (this.patterns.size >= this.options.maxPatterns) {
      this.patternLimitReached = true;
      pattern = OTHER_LABEL;
      series = this.patterns.get(pattern);
      if (series) return series;
    }
    series = new PatternSeries(pattern);
    this.patterns.set(pattern, series);
    return series;
  }

  private callSeries(series: PatternSeries, provider: string): CallSeries {
    let call = series.calls.get(provider);
    if (call) return call;
    const label = provider === NO_PROVIDER_LABEL ? provider : this.providerSeries(provider).provider;
    call = series.calls.get(label);
    if (!call) {
      call = new CallSeries(series.pattern, label, this.options.latencyBucketsMs);
      series.calls.set(label, call);
    }
    return call;
  }

  private providerSeries(provider: string): ProviderSeries {
    let series = this.providers.get(provider);
    if (series) return series;
    if (this.providers.size >= this.options.maxProviders) {
      this.providerLimitReached = true;
      provider = OTHER_LABEL;
      series = this.providers.get(provider);
      if (series) return series;
    }
    series = new ProviderSeries(provider);
    this.providers.set(provider, series);
    return series;
  }
}
