import type { RequestAdmission } from './request-admission.js';

/**
 * One handler invocation (a request's or an event's): holds its admission slot until the handler
 * finished, and owns the `AbortSignal` its context hands out.
 *
 * The AbortController is created only when the handler reads the signal: most handlers never do,
 * and a controller and its signal cost more than the rest of a small request's bookkeeping. An
 * abort before that is remembered and the signal is born aborted.
 */
export class HandlerRun {
  /** Stops what the handler produced (its response stream); set by the dispatcher. */
  onCancel: (() => void) | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private reason: Error | undefined = undefined;
  private running = true;
  /** Running, but reachable through no connection (see RequestAdmission.detach). */
  private detached = false;

  constructor(private readonly admission: RequestAdmission) {}

  /** Aborted when nobody wants the handler's answer any more; its `reason` says why. */
  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = this.controller = new AbortController();
      if (this.reason !== undefined) controller.abort(this.reason);
    }
    return controller.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Tells the handler to stop: aborts its signal with `reason` and stops its response stream.
   * The first reason wins. Cancels, connection loss, stream overflow and shutdown come here, and
   * so can any later cause (a deadline carried by the request).
   */
  abort(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller?.abort(reason);
    const stop = this.onCancel;
    this.onCancel = undefined;
    stop?.();
  }

  /** Its call ended (answered, cancelled, lost) while the handler may still run. */
  detach(): void {
    if (!this.running || this.detached) return;
    this.detached = true;
    this.admission.detach(this);
  }

  /** The handler is done (promise settled, stream torn down): frees its slot, exactly once. */
  finished(): void {
    if (!this.running) return;
    this.running = false;
    this.onCancel = undefined;
    this.admission.released(this, this.detached);
  }
}
