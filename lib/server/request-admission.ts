import { ServerBusyError } from '../errors/server-busy-error.js';
import type { HandlerRun } from './handler-run.js';

/**
 * Counts the handlers a server is running, across all its connections — requests and events —
 * and refuses new ones above the limit: a request is answered at once with a busy error instead
 * of queueing without bound (the client can fail over while the server keeps its latency), an
 * event is dropped and counted. A slot is held until the handler really finished (its promise
 * settled, its stream torn down), not until its call ended: a caller that timed out and cancelled
 * frees nothing while its handler still runs.
 */
export class RequestAdmission {
  private active = 0;
  /**
   * Runs no connection can reach any more, still holding a slot: events, and requests whose call
   * ended (cancelled, connection lost) before their handler did. Shutdown waits for them, then
   * aborts what is left. Requests still on a connection are reached through it.
   */
  private readonly detached = new Set<HandlerRun>();
  private idle: (() => void) | undefined;
  /**
   * What a refused request is answered with. One per server, not one per refusal: an overloaded
   * server refuses a lot, and only its name, code and message cross the wire.
   */
  readonly refusal: ServerBusyError;

  /** `limit` 0 means unlimited. */
  constructor(readonly limit: number) {
    this.refusal = new ServerBusyError(undefined, `${limit} requests in flight`);
  }

  /** Handlers running now (requests and events). */
  get inFlight(): number {
    return this.active;
  }

  tryAcquire(): boolean {
    if (this.limit > 0 && this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  /** `run`, still running, is no longer reachable through a connection. */
  detach(run: HandlerRun): void {
    this.detached.add(run);
  }

  /** `run` finished: its slot is free (HandlerRun.finished calls this exactly once). */
  released(run: HandlerRun, detached: boolean): void {
    this.active--;
    if (detached && this.detached.delete(run) && this.detached.size === 0) this.idle?.();
  }

  /**
   * Resolves once no detached run is left, or after `timeoutMs`; `wait` is the timer
   * (the server's clock). Then aborts the runs still there with `reason`.
   */
  async settle(
    timeoutMs: number,
    reason: Error,
    wait: (resolve: () => void, ms: number) => () => void,
  ): Promise<void> {
    if (this.detached.size > 0) {
      await new Promise<void>((resolve) => {
        const cancel = wait(resolve, timeoutMs);
        this.idle = () => {
          cancel();
          resolve();
        };
      });
      this.idle = undefined;
    }
    for (const run of [...this.detached]) run.abort(reason);
  }
}
