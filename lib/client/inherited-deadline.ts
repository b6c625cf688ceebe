import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import { RpcTimeoutError } from '../errors/rpc-timeout-error.js';
import type { CallScope } from '../propagation/call-scope.js';
import type { CallSettings } from './client-call.js';

/**
 * What a call made while a server handler runs (in `scope`) becomes: its settings, with the timeout
 * cut to what is left of the handler's caller's budget minus `marginMs` when that is shorter (the
 * timeout message then says where it came from); or, when the call must fail at once without
 * sending anything, its error: an RpcTimeoutError when that budget is spent, a RequestCancelledError
 * ('parent-cancelled') when the handler was already told to stop.
 */
export function inheritScope(settings: CallSettings, scope: CallScope, marginMs: number): CallSettings | Error {
  const reason = scope.abortReason;
  if (reason !== undefined) return parentCancelled(scope.pattern, reason);
  const left = scope.remainingMs();
  if (left === undefined) return settings;
  const budget = Math.floor(left - marginMs);
  if (budget < 1) {
    return new RpcTimeoutError(settings.pattern, Math.max(0, budget), {
      reason: 'the inherited time budget was spent before the call was sent (nothing was sent)',
      source: inheritedSource(scope.pattern, left, marginMs),
    });
  }
  if (budget >= settings.timeoutMs) return settings;
  return { ...settings, timeoutMs: budget, timeoutSource: inheritedSource(scope.pattern, left, marginMs) };
}

/** The error of a call whose parent handler (serving `pattern`) was told to stop for `reason`. */
export function parentCancelled(pattern: string | undefined, reason: Error): RequestCancelledError {
  return new RequestCancelledError(
    'parent-cancelled',
    `the handler of "${pattern ?? '?'}" that made this call was told to stop: ${reason.message}`,
    { cause: reason },
  );
}

/** Where an inherited timeout comes from, for timeout messages. */
function inheritedSource(pattern: string, leftMs: number, marginMs: number): string {
  return (
    `deadline inherited from the handler of "${pattern}": ${Math.max(0, Math.round(leftMs))} ms left of its caller's budget, ` +
    `minus deadlineMargin ${marginMs} ms; opt out per call with inheritDeadline: false`
  );
}
