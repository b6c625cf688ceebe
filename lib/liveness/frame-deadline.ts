import type { Clock } from '../common/clock.js';

/**
 * How long the frame a connection is receiving has been incomplete: the slowloris defence.
 *
 * A reader-idle timeout restarts on every chunk, so a peer that dribbles one byte per second
 * never trips it while holding the connection and its buffer forever. This measures from the
 * first byte of the frame still incomplete instead, and lets the owner cut the connection once
 * that frame is older than the limit.
 *
 * No timer of its own (one per frame would cost a timer operation for every frame that spans
 * two chunks): the owner calls {@link afterChunk} once each chunk has been decoded, so the
 * check runs when bytes arrive. A peer that stops sending altogether sends no chunk to check;
 * the reader-idle timeout cuts that one. A partial frame therefore lives at most
 * `limitMs + idleTimeout`, and a dribbler is cut at its first byte after `limitMs`.
 */
export class FrameDeadline {
  /** Clock time the incomplete frame's first byte arrived; -1 when no frame is incomplete. */
  private since = -1;
  /** Frames completed as of the last chunk: a change means the incomplete frame is a new one. */
  private frames = 0;

  /** `limitMs` 0 disables the check. */
  constructor(
    readonly limitMs: number,
    private readonly clock: Clock,
  ) {}

  /** Clock time the current incomplete frame started, or undefined when there is none. */
  get startedAt(): number | undefined {
    return this.since < 0 ? undefined : this.since;
  }

  /**
   * Called after a chunk was decoded with the decoder's state: bytes held for an incomplete
   * frame and the number of frames completed so far. Returns how long the incomplete frame has
   * been arriving when that exceeds the limit (the connection must go), otherwise -1.
   */
  afterChunk(bufferedBytes: number, framesCompleted: number): number {
    if (this.limitMs === 0) return -1;
    if (bufferedBytes === 0) {
      this.since = -1;
      this.frames = framesCompleted;
      return -1;
    }
    const now = this.clock.now();
    if (this.since < 0 || framesCompleted !== this.frames) {
      // The bytes held belong to a frame that started in this chunk: a busy peer whose frames
      // straddle chunk boundaries keeps restarting the count and is never cut.
      this.since = now;
      this.frames = framesCompleted;
      return -1;
    }
    const elapsed = now - this.since;
    return elapsed > this.limitMs ? elapsed : -1;
  }
}
