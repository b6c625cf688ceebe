export { RpcMetrics } from './rpc-metrics.js';
export { NO_PROVIDER_LABEL, OTHER_LABEL } from './metric-series.js';
export type { RpcCallToken } from './metric-series.js';
export { classifyError, isHeartbeatTimeout } from './error-kind.js';
export type { RpcErrorKind } from './error-kind.js';
export { DEFAULT_LATENCY_BUCKETS_MS, DEFAULT_RPC_METRICS_OPTIONS, resolveRpcMetricsOptions } from './metrics-options.js';
export type { RpcMetricsOptions } from './metrics-options.js';
export { estimateQuantile, LatencyHistogram } from './latency-histogram.js';
export type { HistogramBucketSnapshot, HistogramSnapshot } from './latency-histogram.js';
export { escapeHelp, escapeLabelValue, formatSampleValue } from './prometheus-exporter.js';
export type {
  ErrorCounts,
  PatternProviderSnapshot,
  PatternSnapshot,
  ProviderSnapshot,
  RpcMetricsSnapshot,
  RpcTotalsSnapshot,
} from './metrics-snapshot.js';
