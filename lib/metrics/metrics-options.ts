import { checkInteger, checkOptionsObject, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Latency bucket upper bounds in ms (Prometheus-style; `+Inf` is implicit). Spans sub-ms
 * loopback calls up to the longest sensible RPC timeout.
 */
export const DEFAULT_LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
]);

/** Bounds and shape of an {@link RpcMetrics} instance. */
export interface RpcMetricsOptions {
  /**
   * Distinct `pattern` label values kept. Further patterns are counted under `__other__`, so a
   * peer sending made-up patterns cannot grow memory (or the scrape) without bound.
   * @default 1000
   */
  maxPatterns: number;
  /**
   * Distinct `provider` label values kept; further providers are counted under `__other__`
   * (providers churn with deployments; a long-lived process would otherwise keep every one).
   * @default 1000
   */
  maxProviders: number;
  /**
   * Latency histogram bucket upper bounds in ms, strictly increasing, finite and positive.
   * @default DEFAULT_LATENCY_BUCKETS_MS (0.5 … 10000)
   */
  latencyBucketsMs: readonly number[];
  /**
   * Labels added to every Prometheus sample (e.g. `{ side: 'client', app: 'orders' }`).
   * Names must match `[a-zA-Z_][a-zA-Z0-9_]*` and must not be `pattern`, `provider`, `code` or `le`.
   * @default {}
   */
  constLabels: Readonly<Record<string, string>>;
}

export const DEFAULT_RPC_METRICS_OPTIONS: Readonly<RpcMetricsOptions> = Object.freeze({
  maxPatterns: 1000,
  maxProviders: 1000,
  latencyBucketsMs: DEFAULT_LATENCY_BUCKETS_MS,
  constLabels: Object.freeze({}),
});

const KNOWN_KEYS: readonly (keyof RpcMetricsOptions)[] = ['maxPatterns', 'maxProviders', 'latencyBucketsMs', 'constLabels'];

/** Label names the exporter uses itself. */
export const RESERVED_LABELS: readonly string[] = ['pattern', 'provider', 'code', 'le'];

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Where errors name the options: `new RpcMetrics(options)`. */
const METRICS = 'RpcMetrics';

/**
 * Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field
 * (`RpcMetrics.<field>`). A field explicitly set to `undefined` takes its default.
 */
export function resolveRpcMetricsOptions(partial: Partial<RpcMetricsOptions> = {}): RpcMetricsOptions {
  checkOptionsObject(METRICS, partial, KNOWN_KEYS);
  const d = DEFAULT_RPC_METRICS_OPTIONS;
  return {
    maxPatterns: checkInteger(`${METRICS}.maxPatterns`, partial.maxPatterns ?? d.maxPatterns, 1, 100_000),
    maxProviders: checkInteger(`${METRICS}.maxProviders`, partial.maxProviders ?? d.maxProviders, 1, 100_000),
    latencyBucketsMs: checkBuckets(partial.latencyBucketsMs ?? d.latencyBucketsMs),
    constLabels: checkConstLabels(partial.constLabels ?? d.constLabels),
  };
}

function checkBuckets(value: unknown): readonly number[] {
  const field = `${METRICS}.latencyBucketsMs`;
  if (!Array.isArray(value) || value.length === 0 || value.length > 64) {
    throw new InvalidOptionsError(field, 'expected an array of 1 to 64 bucket bounds');
  }
  let previous = 0;
  value.forEach((bound: unknown, i) => {
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound <= previous) {
      throw new InvalidOptionsError(`${field}[${i}]`, 'bounds must be finite, positive and strictly increasing');
    }
    previous = bound;
  });
  return Object.freeze([...(value as number[])]);
}

function checkConstLabels(value: unknown): Readonly<Record<string, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionsError(`${METRICS}.constLabels`, 'expected a string map');
  }
  const out: Record<string, string> = {};
  for (const [name, labelValue] of Object.entries(value)) {
    const field = `${METRICS}.constLabels.${name}`;
    if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.includes(name)) {
      throw new InvalidOptionsError(field, `not a usable label name (reserved: ${RESERVED_LABELS.join(', ')})`);
    }
    out[name] = checkString(field, labelValue, true);
  }
  return Object.freeze(out);
}
