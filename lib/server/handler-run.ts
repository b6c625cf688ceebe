import { Clock, systemClock, TimerHandle, wallTime } from '../common/clock.js';
import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import type { CallScope, ScopedCall } from '../propagation/call-scope.js';
import type { IncomingSpan } from '../tracing/rpc-tracing.js';
import type { RequestAdmission } from './request-admission.js';

/**
 * One handler invocation (a request's or an event's): holds its admission slot until the handler
 * finished, owns the `AbortSignal` its context hands out, and is the scope the client calls it
 * makes inherit their deadline and cancellation from (see call-scope.ts).
 *
 * The AbortController is created only when the handler reads the signal: most handlers never do,
 * and a controller and its signal cost more than the rest of a small request's bookkeeping. An
 * abort before that is remembered and the signal is born aborted. The deadline's timer is armed
 * only then too (or for a response stream): a handler that never looks at its signal learns its
 * deadline from the caller's cancel, which the caller sends when its own timeout fires.
 */
export class HandlerRun implements CallScope {
  /** Stops what the handler produced (its response stream); set by the dispatcher. */
  onCancel: (() => void) | undefined = undefined;
  /**
   * When the caller's time budget runs out, on the clock's scale; undefined when the caller sent
   * none (events, older clients).
   */
  deadlineAt: number | undefined = undefined;
  /** The handler's span, while tracing; ended by whoever ends the call (see HandlerDispatch). */
  trace: IncomingSpan | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private reason: Error | undefined = undefined;
  private running = true;
  /** Running, but reachable through no connection (see RequestAdmission.detach). */
  private detached = false;
  private deadlineTimer: TimerHandle | undefined = undefined;
  /** Client calls this handler made that are still in flight (cancelled with it). */
  private children: Set<ScopedCall> | undefined = undefined;

  constructor(
    private readonly admission: RequestAdmission,
    readonly pattern: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Aborted when nobody wants the handler's answer any more; its `reason` says why. */
  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = this.controller = new AbortController();
      if (this.reason !== undefined) controller.abort(this.reason);
      else this.armDeadline();
    }
    return controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** CallScope: why the handler was told to stop, once it was. */
  get abortReason(): Error | undefined {
    return this.reason;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** CallScope: ms left of the caller's budget (<= 0 once spent); undefined without one. */
  remainingMs(): number | undefined {
    const at = this.deadlineAt;
    return at === undefined ? undefined : at - this.clock.now();
  }

  /** The deadline as wall-clock ms since the epoch (for logs and APIs that take a date). */
  wallDeadline(): number | undefined {
    const remaining = this.remainingMs();
    return remaining === undefined ? undefined : Math.round(wallTime(this.clock) + remaining);
  }

  /**
   * Aborts the run when its deadline passes (at once if it has): the handler reads its signal, or
   * streams an answer. A no-op without a deadline, or once armed, aborted or finished.
   */
  armDeadline(): void {
    const at = this.deadlineAt;
    if (at === undefined || this.deadlineTimer !== undefined || this.reason !== undefined || !this.running) return;
    const left = at - this.clock.now();
    if (left <= 0) {
      this.abort(deadlineExceeded());
      return;
    }
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.abort(deadlineExceeded());
    }, Math.ceil(left));
  }

  /**
   * Tells the handler to stop: aborts its signal with `reason`, stops its response stream and
   * cancels the client calls it has in flight. The first reason wins. Cancels, connection loss,
   * stream overflow, shutdown and the caller's deadline come here.
   */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.clearDeadline();
    this.controller?.abort(reason);
    const stop = this.onCancel;
    this.onCancel = undefined;
    stop?.();
    const children = this.children;
    if (children !== undefined) {
      this.children = undefined;
      for (const child of children) child.parentAborted(reason);
    }
  }

  /** CallScope: `call` is cancelled if this handler is told to stop while it is in flight. */
  adopt(call: ScopedCall): void {
    (this.children ??= new Set()).add(call);
  }

  /** CallScope: `call` ended. */
  release(call: ScopedCall): void {
    this.children?.delete(call);
  }

  /** Its call ended (answered, cancelled, lost) while the handler may still run. */
  detach(): void {
    if (!this.running || this.detached) return;
    this.detached = true;
    this.admission.detach(this);
  }

  /**
   * The handler is done (promise settled, stream torn down): frees its slot, exactly once. Calls
   * it started and left running (not awaited) go on: only an abort cancels them.
   */
  finished(): void {
    if (!this.running) return;
    this.running = false;
    this.onCancel = undefined;
    this.clearDeadline();
    this.admission.released(this, this.detached);
  }

  private clearDeadline(): void {
    if (this.deadlineTimer === undefined) return;
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }
}

function deadlineExceeded(): RequestCancelledError {
  return new RequestCancelledError('deadline-exceeded', "the caller's time budget ran out");
}
