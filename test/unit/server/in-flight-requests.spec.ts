import { describe, expect, it, jest } from '@jest/globals';
import { RateLimitedLog } from '../../../lib/common/rate-limited-log.js';
import { RequestCancelledError } from '../../../lib/errors/request-cancelled-error.js';
import { ServerBusyError } from '../../../lib/errors/server-busy-error.js';
import { RpcMetrics } from '../../../lib/metrics/rpc-metrics.js';
import { CodecId } from '../../../lib/protocol/frame-header.js';
import { InFlightRequests, isAdmitted, type InFlightRequest } from '../../../lib/server/in-flight-requests.js';
import { RequestAdmission } from '../../../lib/server/request-admission.js';
import { countingClock } from '../liveness/counting-clock.js';

function admitted(requests: InFlightRequests, id: number): InFlightRequest {
  const result = requests.admit(id, 'echo', CodecId.Json);
  if (!isAdmitted(result)) throw new Error(`request ${id} refused: ${result.message}`);
  return result;
}

const lost = () => new RequestCancelledError('connection-lost', 'test');

describe('InFlightRequests', () => {
  it('refuses above the server-wide limit with the shared ServerBusyError, and ends a call exactly once', () => {
    const admission = new RequestAdmission(2);
    const a = new InFlightRequests({ admission });
    const b = new InFlightRequests({ admission });
    const first = admitted(a, 1);
    admitted(b, 1);
    const refused = a.admit(2, 'echo', CodecId.Json);
    expect(refused).toBe(admission.refusal);
    expect(refused).toBeInstanceOf(ServerBusyError);
    expect(admission.inFlight).toBe(2);
    first.finished();
    expect(a.finish(1, 'ok')?.requestId).toBe(1);
    // A second finish (a late cancel, an answer after an error) must not end someone else's call.
    expect(a.finish(1, 'cancelled')).toBeUndefined();
    first.finished();
    expect(admission.inFlight).toBe(1);
    expect(isAdmitted(a.admit(2, 'echo', CodecId.Json))).toBe(true);
  });

  it('a cancelled call keeps its slot until its handler finishes, and aborts the handler with a typed reason', () => {
    const admission = new RequestAdmission(1);
    const requests = new InFlightRequests({ admission });
    const request = admitted(requests, 7);
    const stop = jest.fn();
    request.onCancel = stop;
    requests.finish(7, 'cancelled')?.abort(new RequestCancelledError('client-cancel', 'caller gave up'));
    expect(stop).toHaveBeenCalledTimes(1);
    // The call is over, the handler is not: no new request may take its place.
    expect(requests.size).toBe(0);
    expect(admission.inFlight).toBe(1);
    expect(requests.admit(8, 'echo', CodecId.Json)).toBe(admission.refusal);
    // The signal, read only now, is born aborted with the reason.
    expect(request.signal.aborted).toBe(true);
    expect(request.signal.reason).toBeInstanceOf(RequestCancelledError);
    expect((request.signal.reason as RequestCancelledError).kind).toBe('client-cancel');
    request.finished();
    request.finished();
    expect(admission.inFlight).toBe(0);
    expect(isAdmitted(requests.admit(8, 'echo', CodecId.Json))).toBe(true);
  });

  it('creates no AbortController unless the handler reads the signal, and aborts one that was read', () => {
    const admission = new RequestAdmission(0);
    const requests = new InFlightRequests({ admission });
    const unread = admitted(requests, 1);
    const read = admitted(requests, 2);
    const signal = read.signal;
    expect(signal.aborted).toBe(false);
    expect((unread as unknown as { controller: unknown }).controller).toBeUndefined();
    const seen: unknown[] = [];
    signal.addEventListener('abort', () => seen.push(signal.reason));
    requests.cancelAll(lost());
    expect(seen).toHaveLength(1);
    expect((seen[0] as RequestCancelledError).code).toBe('ERR_CANCELLED');
    // The first reason wins.
    read.abort(new Error('later'));
    expect(signal.reason).toBe(seen[0]);
  });

  it('cancelAll ends every call, records cancellations and stops every handler; slots wait for the handlers', () => {
    const admission = new RequestAdmission(10);
    const metrics = new RpcMetrics();
    const requests = new InFlightRequests({ admission, metrics, metricsLabel: 'self' });
    const stopped = jest.fn();
    const all = [1, 2, 3].map((id) => admitted(requests, id));
    for (const r of all) r.onCancel = stopped;
    expect(metrics.inFlight).toBe(3);
    all[1]!.finished();
    requests.finish(2, { error: new Error('handler failed') });
    requests.cancelAll(lost());
    expect(requests.size).toBe(0);
    expect(admission.inFlight).toBe(2);
    expect(metrics.inFlight).toBe(0);
    expect(stopped).toHaveBeenCalledTimes(2);
    for (const r of all) r.finished();
    expect(admission.inFlight).toBe(0);
    const echo = metrics.snapshot().patterns.find((p) => p.pattern === 'echo');
    expect(echo).toMatchObject({ started: 3, failed: 1, cancelled: 2, inFlight: 0 });
  });

  it('events take slots too; one refused is counted in the metrics and logged at most once per interval', () => {
    jest.useFakeTimers();
    const clock = countingClock();
    const lines: string[] = [];
    const admission = new RequestAdmission(2);
    const metrics = new RpcMetrics();
    const refusedEvents = new RateLimitedLog((line) => lines.push(line), 10_000, clock);
    const requests = new InFlightRequests({ admission, metrics, refusedEvents });
    const run = requests.admitEvent('audit', '10.0.0.1:5000');
    admitted(requests, 1);
    for (let i = 0; i < 5; i++) expect(requests.admitEvent('audit', '10.0.0.1:5000')).toBeUndefined();
    expect(requests.admit(2, 'echo', CodecId.Json)).toBe(admission.refusal);
    expect(metrics.snapshot().patterns.find((p) => p.pattern === 'audit')?.eventsRefused).toBe(5);
    expect(metrics.snapshot().totals.eventsRefused).toBe(5);
    expect(lines).toEqual([expect.stringContaining('event "audit" from 10.0.0.1:5000 dropped: 2 handlers running')]);
    jest.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^4 more in the last 10 s; the last: event "audit"/);
    run!.finished();
    expect(admission.inFlight).toBe(1);
    // A quiet interval closes the window; close() leaves no timer.
    jest.advanceTimersByTime(10_000);
    expect(clock.live).toBe(0);
    refusedEvents.close();
    expect(clock.live).toBe(0);
    jest.useRealTimers();
  });

  it('shutdown waits for detached handlers within its bound, then aborts the rest', async () => {
    const admission = new RequestAdmission(0);
    const requests = new InFlightRequests({ admission });
    const quick = requests.admitEvent('a', 'x')!;
    const stubborn = requests.admitEvent('b', 'x')!;
    const cancelled = admitted(requests, 1);
    requests.finish(1, 'cancelled');
    const stubbornSignal = stubborn.signal;
    setTimeout(() => {
      quick.finished();
      cancelled.finished();
    }, 5);
    const shutdown = new RequestCancelledError('server-shutdown', 'test');
    let timerMs = -1;
    await admission.settle(50, shutdown, (resolve, ms) => {
      timerMs = ms;
      const t = setTimeout(resolve, ms);
      return () => clearTimeout(t);
    });
    expect(timerMs).toBe(50);
    expect(stubbornSignal.aborted).toBe(true);
    expect(stubbornSignal.reason).toBe(shutdown);
    expect(quick.aborted).toBe(false);
    stubborn.finished();
    expect(admission.inFlight).toBe(0);
  });
});
