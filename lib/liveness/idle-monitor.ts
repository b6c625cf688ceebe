import type { Clock, TimerHandle } from '../common/clock.js';
import { checkIdleMs, resolveIdleMonitorOptions, type IdleMonitorInit } from './idle-monitor-options.js';
import { timerDelay } from './timer-delay.js';

/**
 * Reader/writer idle detection with Netty `IdleStateHandler` semantics and a single timer.
 *
 * `markRead()` / `markWrite()` run for every frame, so they only store a timestamp; they never touch
 * the timer. The timer is armed for the earliest idle deadline; when it fires it compares the
 * timestamps with the deadlines, fires the callbacks whose deadline has passed and re-arms for the
 * next one. Activity therefore costs one assignment per frame plus at most one extra wake-up per
 * idle period.
 *
 * Repeat semantics (both directions, as in Netty): after a callback fires, that direction's idle
 * counter restarts from the firing time, so while the connection stays idle the callback repeats
 * every `readerIdleMs` / `writerIdleMs`, with `idleForMs` growing (1×, 2×, 3× the interval since
 * the last read/write). A writer callback that writes (a ping) restarts from that write instead.
 * Neither can loop hot: the next deadline is always at least one interval away.
 */
export class IdleMonitor {
  private readonly clock: Clock;
  private readonly onReaderIdle: (idleForMs: number) => void;
  private readonly onWriterIdle: (idleForMs: number) => void;
  private readerIdle: number;
  private writerIdle: number;

  private lastRead = 0;
  private lastWrite = 0;
  // Last time each callback fired: the counter restarts from there so an idle connection gets one
  // callback per interval, not one per timer turn.
  private readerFiredAt = Number.NEGATIVE_INFINITY;
  private writerFiredAt = Number.NEGATIVE_INFINITY;

  private isRunning = false;
  private timer: TimerHandle | undefined;
  // Bumped on every disarm so a timer callback that was already queued when it got cleared is ignored.
  private generation = 0;

  /** @throws InvalidOptionsError when an option is invalid (fields are named `idle.*`). */
  constructor(init: IdleMonitorInit) {
    const options = resolveIdleMonitorOptions(init);
    this.clock = options.clock;
    this.onReaderIdle = options.onReaderIdle;
    this.onWriterIdle = options.onWriterIdle;
    this.readerIdle = options.readerIdleMs;
    this.writerIdle = options.writerIdleMs;
    this.lastRead = this.lastWrite = this.clock.now();
  }

  get running(): boolean {
    return this.isRunning;
  }

  get readerIdleMs(): number {
    return this.readerIdle;
  }

  get writerIdleMs(): number {
    return this.writerIdle;
  }

  /** Clock time of the last `markRead()` (or of `start()`). */
  get lastReadAt(): number {
    return this.lastRead;
  }

  /** Clock time of the last `markWrite()` (or of `start()`). */
  get lastWriteAt(): number {
    return this.lastWrite;
  }

  /** Starts counting from now. No-op when already running. */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.lastRead = this.lastWrite = this.clock.now();
    this.readerFiredAt = this.writerFiredAt = Number.NEGATIVE_INFINITY;
    this.arm();
  }

  /** Cancels the timer; no callback fires afterwards (until a new `start()`). Idempotent. */
  stop(): void {
    this.isRunning = false;
    this.disarm();
  }

  markRead(): void {
    this.lastRead = this.clock.now();
  }

  markWrite(): void {
    this.lastWrite = this.clock.now();
  }

  /**
   * Changes the reader idle time at runtime (e.g. the server asked for another heartbeat interval);
   * `0` disables. The new deadline is measured from the last read, so a shorter value whose deadline
   * has already passed fires right away.
   */
  setReaderIdleMs(ms: number): void {
    this.readerIdle = checkIdleMs('readerIdleMs', ms);
    if (this.isRunning) this.arm();
  }

  /** Writer counterpart of {@link setReaderIdleMs}. */
  setWriterIdleMs(ms: number): void {
    this.writerIdle = checkIdleMs('writerIdleMs', ms);
    if (this.isRunning) this.arm();
  }

  private readerDeadline(): number {
    return this.readerIdle > 0
      ? Math.max(this.lastRead, this.readerFiredAt) + this.readerIdle
      : Number.POSITIVE_INFINITY;
  }

  private writerDeadline(): number {
    return this.writerIdle > 0
      ? Math.max(this.lastWrite, this.writerFiredAt) + this.writerIdle
      : Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    this.disarm();
    const deadline = Math.min(this.readerDeadline(), this.writerDeadline());
    if (deadline === Number.POSITIVE_INFINITY) return;
    const generation = this.generation;
    this.timer = this.clock.setTimeout(() => this.onTimer(generation), timerDelay(deadline - this.clock.now()));
  }

  private disarm(): void {
    this.generation++;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private onTimer(generation: number): void {
    if (generation !== this.generation || !this.isRunning) return;
    this.timer = undefined;
    try {
      const now = this.clock.now();
      if (now >= this.readerDeadline()) {
        this.readerFiredAt = now;
        this.onReaderIdle(now - this.lastRead);
      }
      // The reader callback may have stopped the monitor (e.g. closed the connection).
      if (this.isRunning && now >= this.writerDeadline()) {
        this.writerFiredAt = now;
        this.onWriterIdle(now - this.lastWrite);
      }
    } finally {
      // Re-arm even if a callback threw, so one bad callback does not silently end idle detection.
      // If a callback already re-armed (setReaderIdleMs) or stopped, arm() replaces / skips it.
      if (this.isRunning) this.arm();
    }
  }
}
