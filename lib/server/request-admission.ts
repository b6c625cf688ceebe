import { ServerBusyError } from '../errors/server-busy-error.js';

/**
 * Counts the requests a server is working on, across all its connections, and refuses new
 * ones above the limit — answered at once with a busy error instead of queueing without
 * bound (the client can fail over while the server keeps its latency).
 */
export class RequestAdmission {
  private active = 0;
  /**
   * What a refused request is answered with. One per server, not one per refusal: an overloaded
   * server refuses a lot, and only its name, code and message cross the wire.
   */
  readonly refusal: ServerBusyError;

  /** `limit` 0 means unlimited. */
  constructor(readonly limit: number) {
    this.refusal = new ServerBusyError(undefined, `${limit} requests in flight`);
  }

  get inFlight(): number {
    return this.active;
  }

  tryAcquire(): boolean {
    if (this.limit > 0 && this.active >= this.limit) return false;
    this.active++;
    return true;
  }

  release(count = 1): void {
    this.active = Math.max(0, this.active - count);
  }
}
