import { performance } from 'node:perf_hooks';
import type { PickContext } from '../balancer/balancer.js';
import type { Connection } from '../connection/connection.js';
import type { CallObserver } from '../connection/pending-calls.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import { NO_PROVIDER_LABEL, type RpcCallToken } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Metadata } from '../protocol/message.js';
import type { OutlierDetector } from '../routing/outlier-detector.js';
import type { RetryBudget } from '../routing/retry-budget.js';
import { isProviderFailure, isRetryable } from '../routing/retry-policy.js';
import type { ProviderRouter, RouteFilter } from './provider-router.js';

/** What every call of one client shares: built once per client, read by each call. */
export interface CallEnvironment {
  readonly serviceName: string;
  readonly router: ProviderRouter;
  readonly retryBudget: RetryBudget;
  /** undefined when outlier detection is off. */
  readonly outliers: OutlierDetector | undefined;
  readonly metrics: RpcMetrics | undefined;
  isClosed(): boolean;
  /** Providers in the directory (for the "nobody serves it" message). */
  knownProviders(): number;
  /** Starts discovery and connects providers, if not done yet. */
  start(): void;
}

/** Where a call's outcome goes: `end` or `error` ends it, exactly once; `value` may come before. */
export interface CallSink {
  /** One value of a response stream; more may follow. */
  value(response: unknown): void;
  /** The stream completed; `response` is its last value when `hasData`. */
  end(hasData: boolean, response: unknown): void;
  error(err: unknown): void;
}

/** One call's routing settings, resolved from the client's options and the per-call ones. */
export interface CallSettings {
  readonly pattern: string;
  readonly data: unknown;
  readonly metadata: Metadata | undefined;
  readonly timeoutMs: number;
  /** Extra attempts on other providers (0 for non-idempotent calls). */
  readonly retries: number;
  readonly context: PickContext | undefined;
}

/**
 * One request from pick to final answer: picks a provider (waiting for one within the deadline
 * when none is ready), sends, and on a retryable failure tries another provider while retries,
 * the retry budget and time remain. The whole call keeps one deadline.
 *
 * A class rather than a set of closures because one is built per call: its methods live on the
 * prototype, and it is itself the connection's CallObserver (one object per call, not four).
 */
export class ClientCall implements CallObserver {
  private readonly startedAt = performance.now();
  private readonly token: RpcCallToken | undefined;
  private retries: number;
  private provider = NO_PROVIDER_LABEL;
  private connection: Connection | undefined;
  private requestId = 0;
  private done = false;
  /** A value was passed on: retrying would deliver the stream twice. */
  private delivered = false;
  private cancelWait: (() => void) | undefined;
  /** Attempts started (picks included): only the first, synchronous one skips the clock. */
  private attempts = 0;
  // The exclude set is allocated only once a retry needs it: the common call excludes nobody.
  private route: RouteFilter;

  constructor(
    private readonly env: CallEnvironment,
    private readonly settings: CallSettings,
    private readonly sink: CallSink,
  ) {
    this.retries = settings.retries;
    this.route = { pattern: settings.pattern, kind: 'patterns' };
    this.token = env.metrics?.callStarted(settings.pattern);
  }

  /** Sends the call (or fails it at once on a closed client). */
  start(): void {
    if (this.env.isClosed()) return this.fail(new ClientClosedError());
    this.env.retryBudget.recordCall();
    this.attempt();
  }

  /** The caller stopped listening: drop the wait or tell the provider to stop. No outcome is delivered. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    if (this.token) this.env.metrics!.callCancelled(this.token);
    this.cancelWait?.();
    if (this.connection && this.requestId) this.connection.cancel(this.requestId);
  }

  /** CallObserver: a stream value from the provider. */
  onValue(response: unknown): void {
    this.delivered = true;
    this.sink.value(response);
  }

  /** CallObserver: the final answer. */
  onEnd(hasData: boolean, response: unknown): void {
    this.done = true;
    this.env.outliers?.record(this.provider, true);
    if (this.token) this.env.metrics!.callSucceeded(this.token, this.provider, performance.now() - this.startedAt);
    this.sink.end(hasData, response);
  }

  /** CallObserver: the provider answered with an error, or the connection failed the call. */
  onError(err: unknown): void {
    if (this.done) return;
    const error = err ?? new Error('Remote error without details');
    // A remote handler error still proves the provider answers.
    this.env.outliers?.record(this.provider, !isProviderFailure(error));
    this.retryOrFail(error, this.provider);
  }

  private remaining(): number {
    return this.settings.timeoutMs - (performance.now() - this.startedAt);
  }

  private attempt(): void {
    const env = this.env;
    if (env.isClosed()) return this.fail(new ClientClosedError());
    const route = this.route;
    if (env.router.isUnserved(route)) {
      return this.fail(
        new NoProviderError(env.serviceName, `none of ${env.knownProviders()} known provider(s) serves it`, {
          pattern: route.pattern,
        }),
      );
    }
    const ready = env.router.pickNow(this.settings.context, route);
    if (ready) return this.dispatch(ready, this.attempts++ === 0);
    env.start();
    const pick = env.router.pick(Math.max(1, Math.ceil(this.remaining())), this.settings.context, route);
    this.cancelWait = pick.cancel;
    this.attempts++;
    pick.promise.then(
      (target) => this.dispatch(target, false),
      // A pick that ran out of time is this call's timeout; a closed client, or providers that
      // refused us (AuthError, TlsHandshakeError), are reported as they are.
      (err: unknown) =>
        this.fail(
          err instanceof NoProviderError
            ? new RpcTimeoutError(this.settings.pattern, this.settings.timeoutMs, { cause: err })
            : err,
        ),
    );
  }

  /** `immediate`: the first attempt, sent synchronously from start(): its whole timeout remains. */
  private dispatch(target: Connection, immediate: boolean): void {
    if (this.done) return;
    this.cancelWait = undefined;
    this.connection = target;
    this.provider = target.address;
    const s = this.settings;
    const remainingMs = immediate ? s.timeoutMs : Math.max(1, Math.ceil(this.remaining()));
    try {
      this.requestId = target.call(s.pattern, s.data, s.metadata, remainingMs, this);
    } catch (err) {
      this.retryOrFail(err, target.address);
    }
  }

  /** A retryable failure on `failed` (undefined: no provider was reached): try again or give up. */
  private retryOrFail(err: unknown, failed: string | undefined): void {
    if (this.done) return;
    if (
      this.retries > 0 &&
      !this.delivered &&
      isRetryable(err) &&
      // Covers "timeouts retry only if time remains": the whole call keeps its one deadline.
      this.remaining() >= 1 &&
      this.env.retryBudget.tryAcquire()
    ) {
      this.retries--;
      if (failed && failed !== NO_PROVIDER_LABEL) {
        this.route = { pattern: this.route.pattern, kind: 'patterns', exclude: new Set(this.route.exclude).add(failed) };
      }
      if (this.token) this.env.metrics!.callRetried(this.token);
      this.connection = undefined;
      this.requestId = 0;
      this.attempt();
      return;
    }
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    if (this.token) this.env.metrics!.callFailed(this.token, this.provider, performance.now() - this.startedAt, err);
    this.sink.error(err);
  }
}
