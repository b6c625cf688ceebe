import type { PickContext } from '../balancer/balancer.js';
import type { Clock } from '../common/clock.js';
import type { ProcessHold } from '../common/process-hold.js';
import type { Connection } from '../connection/connection.js';
import type { CallObserver } from '../connection/pending-calls.js';
import { ClientClosedError } from '../errors/client-closed-error.js';
import { isNoHandlerPayload, NoHandlerError } from '../errors/no-handler-error.js';
import { NoProviderError } from '../errors/no-provider-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import { NO_PROVIDER_LABEL, type RpcCallToken } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { Metadata } from '../protocol/message.js';
import { callScopes, type CallScope, type ScopedCall } from '../propagation/call-scope.js';
import type { OutlierDetector } from '../routing/outlier-detector.js';
import type { RetryBudget } from '../routing/retry-budget.js';
import { isProviderFailure, isRetryable } from '../routing/retry-policy.js';
import { endCancelledSpan, endSpan, type RpcSpan, type RpcTracing } from '../tracing/rpc-tracing.js';
import { inheritScope, parentCancelled } from './inherited-deadline.js';
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
  /** Held while a call is pending, so that the process waits for it (see ProcessHold). */
  readonly hold: ProcessHold;
  /** Where the client-wide timeout comes from, for timeout messages. */
  readonly timeoutSource: string;
  /** Ms taken off a budget inherited from a handler (see MsRpcClientOptions.deadlineMargin). */
  readonly deadlineMargin: number;
  /** Spans per call (undefined with `tracing: false`). */
  readonly tracing: RpcTracing | undefined;
  /** The client's clock: a call's start, its remaining time, its latency. */
  readonly clock: Clock;
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
  /** Where the timeout was set when not by the client's options (for timeout messages). */
  readonly timeoutSource: string | undefined;
  /** Extra attempts on other providers (0 for non-idempotent calls). */
  readonly retries: number;
  readonly context: PickContext | undefined;
  /** Wait through failed connect attempts instead of failing fast (gRPC's waitForReady). */
  readonly waitForReady: boolean;
  /** Take the deadline and cancellation of the server handler the call is made in, if any. */
  readonly inheritDeadline: boolean;
}

/**
 * One request from pick to final answer: picks a provider (waiting for one within the deadline
 * when none is ready), sends, and on a retryable failure tries another provider while retries,
 * the retry budget and time remain. The whole call keeps one deadline.
 *
 * Made while a server handler runs (call-scope.ts), the call inherits the handler's deadline (its
 * timeout becomes at most what is left of the handler's caller's budget, minus the margin) and is
 * cancelled with the handler. While tracing, it has a CLIENT span, whose context goes in the
 * request's metadata.
 *
 * A class rather than a set of closures because one is built per call: its methods live on the
 * prototype, and it is itself the connection's CallObserver and its parent handler's ScopedCall
 * (one object per call, not several).
 */
export class ClientCall implements CallObserver, ScopedCall {
  private readonly startedAt: number;
  private readonly token: RpcCallToken | undefined;
  private retries: number;
  /** The process hold is taken (from start() to the outcome). */
  private held = false;
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
  /** The handler this call was made in, while the call is in flight (it cancels the call with it). */
  private scope: CallScope | undefined = undefined;
  /** The call's span, while tracing. */
  private span: RpcSpan | undefined = undefined;

  constructor(
    private readonly env: CallEnvironment,
    /** Replaced (never changed) when the call inherits a shorter deadline, or carries a trace context. */
    private settings: CallSettings,
    private readonly sink: CallSink,
  ) {
    this.startedAt = env.clock.now();
    this.retries = settings.retries;
    this.route = { pattern: settings.pattern, kind: 'patterns' };
    this.token = env.metrics?.callStarted(settings.pattern);
  }

  /**
   * Sends the call, or fails it at once: on a closed client, or when made in a handler whose budget
   * is spent or that was told to stop (nothing is sent then).
   */
  start(): void {
    const env = this.env;
    if (env.isClosed()) return this.fail(new ClientClosedError());
    if (env.tracing !== undefined) this.startSpan(env.tracing);
    if (this.settings.inheritDeadline) {
      const scope = callScopes.current();
      if (scope !== undefined && !this.join(scope)) return;
    }
    this.held = true;
    this.env.hold.acquire();
    // The call's start time serves the budget's window too: one clock read less per call.
    this.env.retryBudget.recordCall(this.startedAt);
    this.attempt();
  }

  /** The caller stopped listening: drop the wait or tell the provider to stop. No outcome is delivered. */
  cancel(): void {
    if (this.done) return;
    this.finish();
    if (this.token) this.env.metrics!.callCancelled(this.token);
    if (this.span !== undefined) endCancelledSpan(this.span, 'the caller unsubscribed or aborted', true);
    this.stopRemote();
  }

  /**
   * ScopedCall: the handler this call was made in was told to stop (its caller cancelled or went
   * away, its deadline passed): stop the call as a cancel does, and fail it with a
   * RequestCancelledError ('parent-cancelled') caused by the handler's reason.
   */
  parentAborted(reason: Error): void {
    if (this.done) return;
    const parent = this.scope;
    this.scope = undefined;
    this.stopRemote();
    this.fail(parentCancelled(parent?.pattern, reason));
  }

  /** Drops the wait for a provider, or tells the provider to stop working on the call. */
  private stopRemote(): void {
    this.cancelWait?.();
    if (this.connection && this.requestId) this.connection.cancel(this.requestId);
  }

  /** The span of the call, its context in the metadata, when an SDK is registered. */
  private startSpan(tracing: RpcTracing): void {
    const span = tracing.startOutgoing(this.settings.pattern, false);
    if (span === undefined) return;
    this.span = span;
    this.settings = { ...this.settings, metadata: tracing.inject(span, this.settings.metadata) };
  }

  /**
   * Takes the deadline and the cancellation of the handler this call is made in. Fails the call at
   * once, and returns false, when that handler was already told to stop or its budget is spent.
   */
  private join(scope: CallScope): boolean {
    const inherited = inheritScope(this.settings, scope, this.env.deadlineMargin);
    if (inherited instanceof Error) {
      this.fail(inherited);
      return false;
    }
    this.settings = inherited;
    this.scope = scope;
    scope.adopt(this);
    return true;
  }

  /** CallObserver: a stream value from the provider. */
  onValue(response: unknown): void {
    this.delivered = true;
    this.sink.value(response);
  }

  /** CallObserver: the final answer. */
  onEnd(hasData: boolean, response: unknown): void {
    if (this.done) return;
    this.finish();
    this.env.outliers?.record(this.provider, true);
    if (this.token) this.env.metrics!.callSucceeded(this.token, this.provider, this.env.clock.now() - this.startedAt);
    if (this.span !== undefined) endSpan(this.span);
    this.sink.end(hasData, response);
  }

  /** CallObserver: the provider answered with an error, or the connection failed the call. */
  onError(err: unknown): void {
    if (this.done) return;
    const error = this.typed(err ?? new Error('Remote error without details'));
    // A remote handler error still proves the provider answers.
    this.env.outliers?.record(this.provider, !isProviderFailure(error));
    this.retryOrFail(error, this.provider);
  }

  private remaining(): number {
    return this.settings.timeoutMs - (this.env.clock.now() - this.startedAt);
  }

  private attempt(): void {
    const env = this.env;
    if (env.isClosed()) return this.fail(new ClientClosedError());
    const route = this.route;
    if (env.router.isUnserved(route)) {
      return this.fail(new NoHandlerError(route.pattern, env.serviceName, `none of ${env.knownProviders()} known provider(s) serves it`));
    }
    const ready = env.router.pickNow(this.settings.context, route);
    if (ready) return this.dispatch(ready, this.attempts++ === 0);
    env.start();
    const s = this.settings;
    const pick = env.router.pick(Math.max(1, Math.ceil(this.remaining())), s.context, route, s.waitForReady);
    this.cancelWait = pick.cancel;
    this.attempts++;
    pick.promise.then(
      (target) => this.dispatch(target, false),
      // A wait that ran out of time is this call's timeout, saying why no provider was ready; a
      // fast failure (every provider's latest connect failed), a closed client, or providers that
      // refused us (AuthError, TlsHandshakeError) are reported as they are.
      (err: unknown) =>
        this.fail(
          err instanceof NoProviderError && err.waitedMs !== undefined
            ? new RpcTimeoutError(s.pattern, s.timeoutMs, { cause: err, reason: err.message, source: this.timeoutSource() })
            : err,
        ),
    );
  }

  /**
   * A provider's answer or a connection failure, as the caller should see it: a timeout says where
   * its value came from; a provider's "no handler" answer becomes a NoHandlerError.
   */
  private typed(err: unknown): unknown {
    if (err instanceof RpcTimeoutError) {
      return new RpcTimeoutError(this.settings.pattern, this.settings.timeoutMs, {
        address: this.provider === NO_PROVIDER_LABEL ? undefined : this.provider,
        source: this.timeoutSource(),
      });
    }
    if (!(err instanceof NoHandlerError) && isNoHandlerPayload(err)) {
      return new NoHandlerError(this.settings.pattern, this.env.serviceName, `provider ${this.provider} has no handler for it`);
    }
    return err;
  }

  private timeoutSource(): string {
    return this.settings.timeoutSource ?? this.env.timeoutSource;
  }

  /** The call is over (answered, failed or cancelled): it no longer holds the process, nor its parent handler. */
  private finish(): void {
    this.done = true;
    if (this.held) {
      this.held = false;
      this.env.hold.release();
    }
    const scope = this.scope;
    if (scope !== undefined) {
      this.scope = undefined;
      scope.release(this);
    }
  }

  /** `immediate`: the first attempt, sent synchronously from start(): its whole timeout remains. */
  private dispatch(target: Connection, immediate: boolean): void {
    if (this.done) return;
    this.cancelWait = undefined;
    this.connection = target;
    this.provider = target.address;
    if (this.span !== undefined) this.env.tracing!.setPeer(this.span, target.host, target.port);
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
      this.span?.addEvent('retry', { 'error.type': (err as { code?: string })?.code ?? 'error' });
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
    this.finish();
    if (this.token) this.env.metrics!.callFailed(this.token, this.provider, this.env.clock.now() - this.startedAt, err);
    if (this.span !== undefined) endSpan(this.span, err);
    this.sink.error(err);
  }
}
