import { type Clock, systemClock } from './clock.js';
import { clipLogLine, MAX_LOG_MESSAGE, type MsRpcLogger } from './logger.js';

/**
 * How a dependency that is retried in the background (a registry, a registration) is logged
 * while it fails: one warning when the failures start, the repeats at debug level, and one line
 * when it works again, with how long it failed and how many attempts failed. An outage of an
 * hour costs two lines, not one per beat, poll or retry.
 */
export class OutageLog {
  private since: number | undefined;
  private failures = 0;

  constructor(
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Failing now. */
  get down(): boolean {
    return this.since !== undefined;
  }

  /** Failed attempts in the current outage (0 when none). */
  get failedAttempts(): number {
    return this.failures;
  }

  /** One failed attempt: the first of an outage is a warning (`line` + how it goes on), the rest go to debug. */
  failed(line: string): void {
    this.failures++;
    if (this.since === undefined) {
      this.since = this.clock.now();
      // The line is cut before the suffix, so that what happens next is always said.
      const next = '; retrying (repeats at debug level until it recovers)';
      this.logger.warn(`${clipLogLine(line, MAX_LOG_MESSAGE - next.length)}${next}`);
    } else {
      this.logger.debug?.(`${line} (failure ${this.failures} of this outage)`);
    }
  }

  /**
   * It worked: ends the outage, if any, with one `log` line (`line` + duration and failed
   * attempts). Returns false when there was no outage, so the caller logs its usual line, if any.
   */
  recovered(line: string): boolean {
    if (this.since === undefined) return false;
    const lasted = this.clock.now() - this.since;
    const failures = this.failures;
    this.since = undefined;
    this.failures = 0;
    this.logger.log(`${line} after an outage of ${formatDuration(lasted)} (${failures} failed attempt${failures === 1 ? '' : 's'})`);
    return true;
  }
}

/** `850 ms`, `12.3 s`, `4 min 5 s`, `2 h 3 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
