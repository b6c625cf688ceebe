import { describe, expect, it, jest } from '@jest/globals';
import { ServerBusyError } from '../../../lib/errors/server-busy-error.js';
import { RpcMetrics } from '../../../lib/metrics/rpc-metrics.js';
import { CodecId } from '../../../lib/protocol/frame-header.js';
import { InFlightRequests, isAdmitted, type InFlightRequest } from '../../../lib/server/in-flight-requests.js';
import { RequestAdmission } from '../../../lib/server/request-admission.js';

function admitted(requests: InFlightRequests, id: number): InFlightRequest {
  const result = requests.admit(id, 'echo', CodecId.Json);
  if (!isAdmitted(result)) throw new Error(`request ${id} refused: ${result.message}`);
  return result;
}

describe('InFlightRequests', () => {
  it('refuses above the server-wide limit with the shared ServerBusyError, and frees a slot exactly once', () => {
    const admission = new RequestAdmission(2);
    const a = new InFlightRequests({ admission });
    const b = new InFlightRequests({ admission });
    admitted(a, 1);
    admitted(b, 1);
    const refused = a.admit(2, 'echo', CodecId.Json);
    expect(refused).toBe(admission.refusal);
    expect(refused).toBeInstanceOf(ServerBusyError);
    expect(admission.inFlight).toBe(2);
    expect(a.finish(1, 'ok')?.requestId).toBe(1);
    // A second finish (a late cancel, an answer after an error) must not free someone else's slot.
    expect(a.finish(1, 'cancelled')).toBeUndefined();
    expect(admission.inFlight).toBe(1);
    expect(isAdmitted(a.admit(2, 'echo', CodecId.Json))).toBe(true);
  });

  it('answers a duplicate id without taking a slot or replacing the running request', () => {
    const admission = new RequestAdmission(0);
    const requests = new InFlightRequests({ admission });
    const first = admitted(requests, 5);
    expect(requests.admit(5, 'echo', CodecId.Json)).toEqual({ status: 'error', message: 'Duplicate request id 5' });
    expect(requests.get(5)).toBe(first);
    expect(admission.inFlight).toBe(1);
  });

  it('cancelAll releases every slot, records cancellations and stops every handler', () => {
    const admission = new RequestAdmission(10);
    const metrics = new RpcMetrics();
    const requests = new InFlightRequests({ admission, metrics, metricsLabel: 'self' });
    const stopped = jest.fn();
    for (let id = 1; id <= 3; id++) admitted(requests, id).onCancel = stopped;
    expect(metrics.inFlight).toBe(3);
    requests.finish(2, { error: new Error('handler failed') });
    requests.cancelAll();
    expect(requests.size).toBe(0);
    expect(admission.inFlight).toBe(0);
    expect(metrics.inFlight).toBe(0);
    expect(stopped).toHaveBeenCalledTimes(2);
    const echo = metrics.snapshot().patterns.find((p) => p.pattern === 'echo');
    expect(echo).toMatchObject({ started: 3, failed: 1, cancelled: 2, inFlight: 0 });
  });
});
