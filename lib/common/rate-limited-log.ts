import type { Clock, TimerHandle } from './clock.js';

/** What the server's rate-limited warnings use: one line per 10 s per kind of event at most. */
export const LOG_INTERVAL_MS = 10_000;

/**
 * At most one log line per interval for one kind of event, however often it happens, and no
 * occurrence lost: the first is logged at once, the ones within the next `intervalMs` are
 * counted, and one line with their count (and the last one's detail) follows when the interval
 * ends. For what a peer or a user's code can make happen at will (failed TLS handshakes, refused
 * events, a hook that throws on every request): a flood costs a log line per interval.
 *
 * Its timer runs only while an interval is open, unref()'d; {@link close} clears it.
 */
export class RateLimitedLog {
  /** Occurrences since the last line. */
  private unlogged = 0;
  private lastDetail = '';
  private timer: TimerHandle | undefined;
  private total = 0;

  constructor(
    /** `stack` comes with the first occurrence of an interval only. */
    private readonly write: (line: string, stack?: string) => void,
    private readonly intervalMs: number,
    private readonly clock: Clock,
  ) {}

  /** Occurrences reported since construction. */
  get count(): number {
    return this.total;
  }

  /** One occurrence; `detail` is its line (logged now, or summarized with the others later). */
  report(detail: string, stack?: string): void {
    this.total++;
    if (this.timer === undefined) {
      this.write(detail, stack);
      this.openInterval();
      return;
    }
    this.unlogged++;
    this.lastDetail = detail;
  }

  /** Logs what is still counted and stops the timer. */
  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private openInterval(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      // A flood keeps its interval open: one summary line per interval while it lasts.
      if (this.flush()) this.openInterval();
    }, this.intervalMs);
  }

  private flush(): boolean {
    if (this.unlogged === 0) return false;
    const n = this.unlogged;
    this.unlogged = 0;
    this.write(`${n} more in the last ${this.intervalMs / 1000} s; the last: ${this.lastDetail}`);
    return true;
  }
}
