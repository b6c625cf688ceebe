/**
 * Counts the requests a server is working on, across all its connections, and refuses new
 * ones above the limit — answered at once with a busy error instead of queueing without
 * bound (the client can fail over while the server keeps its latency).
 */
export class RequestAdmission {
  private active = 0;

  /** `limit` 0 means unlimited. */
  constructor(readonly limit: number) {}

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
