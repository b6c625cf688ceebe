import { ServerBusyError } from '../errors/server-busy-error.js';
import type { CodecId } from '../protocol/frame-header.js';
import type { RpcCallToken } from '../metrics/metric-series.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { RequestAdmission } from './request-admission.js';

/** Handle on one in-flight request, given to the dispatcher. */
export interface InFlightRequest {
  readonly requestId: number;
  readonly codec: CodecId;
  /** Set when the client cancels or the connection closes: the handler's stream must stop. */
  onCancel?: () => void;
  /** Metrics bookkeeping, when the server collects metrics. */
  metricsToken?: RpcCallToken;
  startedAt?: number;
}

/** How a request ended, for metrics. */
export type RequestOutcome = { error: unknown } | 'ok' | 'cancelled';

/** What every connection of a server shares for its requests (a subset of ServerConnectionOptions). */
export interface RequestBookkeeping {
  /** The concurrent request limit, over all connections. */
  admission: RequestAdmission;
  /** The server's metrics (per pattern; `metricsLabel` as the provider label). */
  metrics?: RpcMetrics;
  metricsLabel?: string;
}

/**
 * The requests in flight on one server connection, by request id: admission against the server's
 * limit, metrics, and the release of each admission slot exactly once, however the request ends
 * (answered, failed, cancelled, or dropped with the connection).
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
    const request: InFlightRequest = { requestId, codec };
    const metrics = this.bookkeeping.metrics;
    if (metrics) {
      request.metricsToken = metrics.callStarted(pattern);
      request.startedAt = performance.now();
    }
    this.set(requestId, request);
    return request;
  }

  /** Ends tracking of a request: frees its admission slot and records its outcome, exactly once. */
  finish(requestId: number, outcome: RequestOutcome): InFlightRequest | undefined {
    const request = this.get(requestId);
    if (!request) return undefined;
    this.delete(requestId);
    this.bookkeeping.admission.release();
    this.record(request, outcome);
    return request;
  }

  /** The connection is gone: every request is cancelled, its handler told to stop. */
  cancelAll(): void {
    const cancelled = [...this.values()];
    this.clear();
    this.bookkeeping.admission.release(cancelled.length);
    for (const request of cancelled) this.record(request, 'cancelled');
    for (const request of cancelled) request.onCancel?.();
  }

  private record(request: InFlightRequest, outcome: RequestOutcome): void {
    const metrics = this.bookkeeping.metrics;
    const token = request.metricsToken;
    if (!metrics || !token) return;
    const label = this.bookkeeping.metricsLabel ?? 'self';
    const elapsed = performance.now() - (request.startedAt ?? 0);
    if (outcome === 'ok') metrics.callSucceeded(token, label, elapsed);
    else if (outcome === 'cancelled') metrics.callCancelled(token);
    else metrics.callFailed(token, label, elapsed, outcome.error);
  }
}

/** The answer to a request whose id is already in flight on the connection (kept plain, as it always was). */
export interface DuplicateRequest {
  status: 'error';
  message: string;
}

/** Tells an admitted request from a refusal. */
export function isAdmitted(result: InFlightRequest | ServerBusyError | DuplicateRequest): result is InFlightRequest {
  return (result as InFlightRequest).requestId !== undefined;
}
