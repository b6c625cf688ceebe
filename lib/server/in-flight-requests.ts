import type { Clock } from '../common/clock.js';
import type { RateLimitedLog } from '../common/rate-limited-log.js';
import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import { ServerBusyError } from '../errors/server-busy-error.js';
import type { CodecId } from '../protocol/frame-header.js';
import type { RpcCallToken } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import { endCancelledSpan, endSpan } from '../tracing/rpc-tracing.js';
import { HandlerRun } from './handler-run.js';
import type { RequestAdmission } from './request-admission.js';
import type { StreamBacklog } from './stream-backlog.js';

/**
 * One request in flight: its handler's run (admission slot, abort signal), and what answering
 * it needs. Its call ends when it is answered, cancelled or its connection is lost; its handler
 * may outlive that (a Promise handler cannot be stopped, only told to), and keeps its slot.
 */
export class InFlightRequest extends HandlerRun {
  /** Metrics bookkeeping, when the server collects metrics. */
  metricsToken: RpcCallToken | undefined = undefined;
  startedAt = 0;
  /** The unsent bytes of a response stream, once it sent a value (see ServerConnection.respond). */
  backlog: StreamBacklog | undefined = undefined;

  constructor(
    admission: RequestAdmission,
    readonly requestId: number,
    readonly codec: CodecId,
    pattern: string,
    clock: Clock | undefined,
  ) {
    super(admission, pattern, clock);
  }
}

/** How a request ended, for metrics. */
export type RequestOutcome = { error: unknown } | 'ok' | 'cancelled';

/** What every connection of a server shares for its requests (a subset of ServerConnectionOptions). */
export interface RequestBookkeeping {
  /** The concurrent handler limit, over all connections. */
  admission: RequestAdmission;
  /** The server's metrics (per pattern; `metricsLabel` as the provider label). */
  metrics?: RpcMetrics;
  metricsLabel?: string;
  /** Where refused events are reported (rate-limited), with their count. */
  refusedEvents?: RateLimitedLog;
  /** Times the callers' deadlines (default systemClock). */
  clock?: Clock;
}

/**
 * The requests in flight on one server connection, by request id: admission against the server's
 * limit, metrics, and the end of each call exactly once, however it ends (answered, failed,
 * cancelled, or dropped with the connection). A call that ends before its handler detaches the
 * handler's run: its slot stays taken until the handler finishes.
 *
 * A Map itself rather than a wrapper around one: a connection creates it on its first request,
 * so an idle connection pays nothing and a busy one pays for one object, as with a plain Map.
 */
export class InFlightRequests extends Map<number, InFlightRequest> {
  constructor(private readonly bookkeeping: RequestBookkeeping) {
    super();
  }

  /**
   * Starts tracking a request. Returns the error to answer instead, when it cannot be taken: a
   * duplicate id, or a server at its limit (a ServerBusyError, which clients may fail over).
   */
  admit(requestId: number, pattern: string, codec: CodecId): InFlightRequest | ServerBusyError | DuplicateRequest {
    if (this.has(requestId)) return { status: 'error', message: `Duplicate request id ${requestId}` };
    const admission = this.bookkeeping.admission;
    if (!admission.tryAcquire()) {
      return admission.refusal;
    }
    const request = new InFlightRequest(admission, requestId, codec, pattern, this.bookkeeping.clock);
    const metrics = this.bookkeeping.metrics;
    if (metrics) {
      request.metricsToken = metrics.callStarted(pattern);
      request.startedAt = performance.now();
    }
    this.set(requestId, request);
    return request;
  }

  /**
   * Takes a slot for an event's handler, or counts the event as refused (it has nobody to answer:
   * it goes into the metrics and a rate-limited warning) and returns undefined.
   */
  admitEvent(pattern: string, from: string): HandlerRun | undefined {
    const { admission, metrics, refusedEvents } = this.bookkeeping;
    if (!admission.tryAcquire()) {
      metrics?.eventRefused(pattern);
      refusedEvents?.report(
        `event ${JSON.stringify(pattern.slice(0, 80))} from ${from} dropped: ${admission.limit} handlers running (maxConcurrentRequests)`,
      );
      return undefined;
    }
    const run = new HandlerRun(admission, pattern, this.bookkeeping.clock);
    // Nobody answers an event: no connection reaches its run, only the shutdown does.
    run.detach();
    return run;
  }

  /** Ends the call of a request and records its outcome, exactly once; its handler may still run. */
  finish(requestId: number, outcome: RequestOutcome): InFlightRequest | undefined {
    const request = this.get(requestId);
    if (!request) return undefined;
    this.delete(requestId);
    request.detach();
    this.record(request, outcome);
    return request;
  }

  /** The connection is gone: every call is cancelled, its handler told to stop with `reason`. */
  cancelAll(reason: Error): void {
    const cancelled = [...this.values()];
    this.clear();
    for (const request of cancelled) {
      request.detach();
      this.record(request, 'cancelled');
    }
    for (const request of cancelled) request.abort(reason);
  }

  private record(request: InFlightRequest, outcome: RequestOutcome): void {
    const trace = request.trace;
    if (trace !== undefined) {
      request.trace = undefined;
      if (outcome === 'cancelled') endCancelledSpan(trace.span, 'the caller cancelled or its connection closed', false);
      // An answer past the caller's deadline went to nobody: the handler overran its budget.
      else endSpan(trace.span, outcome === 'ok' ? pastDeadline(request) : outcome.error);
    }
    const metrics = this.bookkeeping.metrics;
    const token = request.metricsToken;
    if (!metrics || !token) return;
    const label = this.bookkeeping.metricsLabel ?? 'self';
    const elapsed = performance.now() - request.startedAt;
    if (outcome === 'ok') metrics.callSucceeded(token, label, elapsed);
    else if (outcome === 'cancelled') metrics.callCancelled(token);
    else metrics.callFailed(token, label, elapsed, outcome.error);
  }
}

/** The reason `request` was aborted when its deadline passed, if it was. */
function pastDeadline(request: InFlightRequest): RequestCancelledError | undefined {
  const reason = request.abortReason;
  return reason instanceof RequestCancelledError && reason.kind === 'deadline-exceeded' ? reason : undefined;
}

/** The answer to a request whose id is already in flight on the connection (kept plain, as it always was). */
export interface DuplicateRequest {
  status: 'error';
  message: string;
}

/** Tells an admitted request from a refusal. */
export function isAdmitted(result: InFlightRequest | ServerBusyError | DuplicateRequest): result is InFlightRequest {
  return result instanceof InFlightRequest;
}
