import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RequestCancelledError } from '../../../lib/errors/request-cancelled-error.js';
import type { ScopedCall } from '../../../lib/propagation/call-scope.js';
import { HandlerRun } from '../../../lib/server/handler-run.js';
import { RequestAdmission } from '../../../lib/server/request-admission.js';
import { countingClock } from '../liveness/counting-clock.js';

/** A handler's run as the caller's deadline and cancellation see it (issue 18), on fake timers. */
describe('HandlerRun: deadline and the calls it makes', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  function started(deadlineIn?: number) {
    const clock = countingClock();
    const admission = new RequestAdmission(0);
    admission.tryAcquire();
    const run = new HandlerRun(admission, 'orders.get', clock);
    if (deadlineIn !== undefined) run.deadlineAt = clock.now() + deadlineIn;
    return { run, clock, admission };
  }

  function child(): ScopedCall & { reasons: Error[] } {
    const reasons: Error[] = [];
    return { reasons, parentAborted: (reason) => void reasons.push(reason) };
  }

  it('without a deadline: no remaining time, no timer, a signal that aborts only when told', () => {
    const { run, clock } = started();
    expect(run.remainingMs()).toBeUndefined();
    expect(run.wallDeadline()).toBeUndefined();
    const signal = run.signal;
    jest.advanceTimersByTime(60_000);
    expect(signal.aborted).toBe(false);
    expect(clock.created).toBe(0);
  });

  it('counts the budget down on the clock; the wall-clock deadline agrees', () => {
    const { run } = started(300);
    expect(run.remainingMs()).toBe(300);
    jest.advanceTimersByTime(120);
    expect(run.remainingMs()).toBe(180);
    expect(run.wallDeadline()).toBe(Date.now() + 180);
  });

  it('no timer until the signal is read; then it aborts at the deadline with deadline-exceeded', () => {
    const { run, clock } = started(300);
    jest.advanceTimersByTime(100);
    expect(clock.created).toBe(0);
    const signal = run.signal;
    expect(clock.live).toBe(1);
    jest.advanceTimersByTime(199);
    expect(signal.aborted).toBe(false);
    jest.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(RequestCancelledError);
    expect((signal.reason as RequestCancelledError).kind).toBe('deadline-exceeded');
    expect(run.abortReason).toBe(signal.reason);
    expect(clock.live).toBe(0);
  });

  it('a signal read after the deadline is born aborted, with no timer', () => {
    const { run, clock } = started(50);
    jest.advanceTimersByTime(80);
    expect(run.signal.aborted).toBe(true);
    expect((run.signal.reason as RequestCancelledError).kind).toBe('deadline-exceeded');
    expect(clock.created).toBe(0);
  });

  it('finishing or an earlier abort clears the deadline timer; the first reason wins', () => {
    const done = started(300);
    void done.run.signal;
    done.run.finished();
    expect(done.clock.live).toBe(0);
    expect(done.admission.inFlight).toBe(0);

    const cancelled = started(300);
    void cancelled.run.signal;
    const reason = new RequestCancelledError('client-cancel', 'test');
    cancelled.run.abort(reason);
    expect(cancelled.clock.live).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(cancelled.run.signal.reason).toBe(reason);
  });

  it('armDeadline (a response stream) arms the timer without the signal being read', () => {
    const { run, clock } = started(100);
    run.armDeadline();
    run.armDeadline();
    expect(clock.created).toBe(1);
    const stopped: string[] = [];
    run.onCancel = () => stopped.push('stream');
    jest.advanceTimersByTime(100);
    expect(run.aborted).toBe(true);
    expect(stopped).toEqual(['stream']);
  });

  it('an abort cancels the calls it made and still has in flight, once, with its reason', () => {
    const { run } = started(300);
    const [a, b, done] = [child(), child(), child()];
    run.adopt(a);
    run.adopt(b);
    run.adopt(done);
    run.release(done);
    const reason = new RequestCancelledError('connection-lost', 'test');
    run.abort(reason);
    run.abort(new RequestCancelledError('client-cancel', 'later'));
    expect(a.reasons).toEqual([reason]);
    expect(b.reasons).toEqual([reason]);
    expect(done.reasons).toEqual([]);
  });

  it('the deadline cancels the calls too; a handler that finished leaves the calls it did not await running', () => {
    const timedOut = started(100);
    const call = child();
    timedOut.run.adopt(call);
    void timedOut.run.signal;
    jest.advanceTimersByTime(100);
    expect((call.reasons[0] as RequestCancelledError).kind).toBe('deadline-exceeded');

    const finished = started(100);
    const background = child();
    finished.run.adopt(background);
    finished.run.finished();
    jest.advanceTimersByTime(1000);
    expect(background.reasons).toEqual([]);
  });
});
