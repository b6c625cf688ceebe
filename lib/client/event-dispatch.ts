import { ClientClosedError } from '../errors/client-closed-error.js';
import type { Metadata } from '../protocol/message.js';
import { endSpan } from '../tracing/rpc-tracing.js';
import type { CallEnvironment } from './client-call.js';
import { MsRpcRecord } from './ms-rpc-record.js';

/**
 * Sends one event (`emit()`): fire-and-forget once written. When no provider is ready it waits
 * as a call does: for a connect attempt under way, or up to `timeoutMs` with `waitForReady`.
 *
 * Events go to a provider that declares the event in its `events` metadata. When providers are
 * known but none declares it, the event still goes to any provider rather than failing: an emit
 * is fire-and-forget, Nest providers log events they have no handler for, and providers of other
 * implementations may handle events they do not declare.
 *
 * While tracing, the event has a PRODUCER span (a child of the context `emit()` was called in),
 * ended once the event is written; its context goes in the metadata.
 */
export async function sendEvent(
  env: CallEnvironment,
  pattern: string,
  payload: unknown,
  packetMetadata: Metadata | undefined,
  timeoutMs: number,
  waitForReady: boolean,
): Promise<void> {
  if (env.isClosed()) throw new ClientClosedError();
  let data = payload;
  let metadata = packetMetadata;
  if (data instanceof MsRpcRecord) {
    if (data.options.metadata) metadata = { ...metadata, ...data.options.metadata };
    data = data.data;
  }
  const tracing = env.tracing;
  const span = tracing?.startOutgoing(pattern, true);
  if (span !== undefined) metadata = tracing!.inject(span, metadata);
  try {
    const eventRoute = { pattern, kind: 'events' as const };
    const route = env.router.isUnserved(eventRoute) ? undefined : eventRoute;
    let target = env.router.pickNow(undefined, route);
    if (!target) {
      env.start();
      target = await env.router.pick(timeoutMs, undefined, route, waitForReady).promise;
    }
    if (span !== undefined) tracing!.setPeer(span, target.host, target.port);
    target.emit(pattern, data, metadata);
  } catch (err) {
    if (span !== undefined) endSpan(span, err);
    throw err;
  }
  if (span !== undefined) endSpan(span);
}
