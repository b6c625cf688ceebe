import type { Clock, TimerHandle } from '../common/clock.js';

/** What a {@link WriteStall} watches: one connection's write queue. */
export interface WriteQueue {
  /** Bytes handed to the kernel so far (grows as the peer reads). */
  flushedBytes(): number;
  /** Still has bytes the peer has not taken (watching goes on while it has). */
  overLimit(): boolean;
  /** Nothing left for `stalledMs` while bytes were waiting: the peer stopped reading. */
  stalled(stalledMs: number): void;
}

/**
 * Tells a peer that reads slowly from one that stopped reading altogether. Armed when the write
 * queue hits its limit (a connection that keeps up never has a timer), it checks every
 * `timeoutMs` that some bytes left since the last check while bytes were waiting; when none did,
 * the queue is reported stalled (the owner cuts the connection); once nothing waits, it stops. A
 * stall is therefore found between one and two `timeoutMs` after the last byte left.
 */
export class WriteStall {
  private timer: TimerHandle | undefined;
  private flushedAtCheck = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: Clock,
    private readonly queue: WriteQueue,
  ) {}

  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** The queue went over its limit: start watching (no-op when already watching). */
  arm(): void {
    if (this.timer !== undefined) return;
    this.flushedAtCheck = this.queue.flushedBytes();
    this.timer = this.clock.setTimeout(() => this.check(), this.timeoutMs);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    this.timer = undefined;
    if (!this.queue.overLimit()) return;
    if (this.queue.flushedBytes() === this.flushedAtCheck) {
      this.queue.stalled(this.timeoutMs);
      return;
    }
    this.arm();
  }
}
