import type { Clock, TimerHandle } from '../common/clock.js';

/** The beat payload the `nacos` client builds in registerInstance(); the server re-registers from it. */
export interface NacosBeatInfo {
  serviceName: string;
  ip: string;
  port: number;
  cluster: string;
  weight: number;
  metadata: Record<string, unknown>;
  scheduled: boolean;
}

/** Sends one beat; resolves with the next interval the server asked for (never rejects). */
export type SendBeat = (beat: NacosBeatInfo) => Promise<number>;

/** Java client's DEFAULT_HEART_BEAT_INTERVAL, also the node client's fallback answer. */
export const DEFAULT_BEAT_INTERVAL_MS = 5000;
const HEART_BEAT_INTERVAL_KEY = 'preserved.heart.beat.interval';

/**
 * Drop-in replacement for the `nacos` client's BeatReactor (same addBeatInfo / removeBeatInfo /
 * close surface). The original runs `while (!closed) { beat all; await sleep(interval) }` with a
 * plain, non-unref'd setTimeout that close() cannot cancel, so a closed client keeps the process
 * alive for up to 10 s. This one keeps one clock timer per instance (unref'd by the clock), cleared
 * by removeBeatInfo() and close().
 *
 * Timing follows the Java client: the first beat one period after registration, where the period is
 * the instance's `preserved.heart.beat.interval` metadata, else the last interval any server answer
 * dictated (5 s until one did); later beats use the metadata value or the latest server answer.
 */
export class NacosBeatScheduler {
  private readonly entries = new Map<string, { beat: NacosBeatInfo; timer: TimerHandle }>();
  private learnedIntervalMs = DEFAULT_BEAT_INTERVAL_MS;
  private closed = false;

  constructor(
    private readonly sendBeat: SendBeat,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  addBeatInfo(serviceName: string, beat: NacosBeatInfo): void {
    if (this.closed) return;
    const key = beatKey(serviceName, beat.ip, beat.port);
    const previous = this.entries.get(key);
    if (previous) this.clock.clearTimeout(previous.timer);
    const entry = { beat, timer: undefined as TimerHandle };
    this.entries.set(key, entry);
    this.schedule(key, entry, this.periodOf(beat));
  }

  removeBeatInfo(serviceName: string, ip: string, port: number): void {
    const key = beatKey(serviceName, ip, port);
    const entry = this.entries.get(key);
    if (entry) this.clock.clearTimeout(entry.timer);
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.clock.clearTimeout(entry.timer);
    this.entries.clear();
  }

  private schedule(key: string, entry: { beat: NacosBeatInfo; timer: TimerHandle }, delayMs: number): void {
    entry.timer = this.clock.setTimeout(() => void this.fire(key, entry), delayMs);
  }

  private async fire(key: string, entry: { beat: NacosBeatInfo; timer: TimerHandle }): Promise<void> {
    if (this.closed || this.entries.get(key) !== entry) return;
    let answered = Number.NaN;
    try {
      entry.beat.scheduled = true;
      answered = Number(await this.sendBeat(entry.beat));
    } catch {
      // sendBeat logs and swallows its own failures; a throw here only means "use the usual period".
    } finally {
      entry.beat.scheduled = false;
    }
    if (Number.isFinite(answered) && answered > 0) this.learnedIntervalMs = answered;
    // Removed or replaced while the beat was in flight: that entry owns the schedule now.
    if (this.closed || this.entries.get(key) !== entry) return;
    this.schedule(key, entry, this.periodOf(entry.beat));
  }

  private periodOf(beat: NacosBeatInfo): number {
    const fromMetadata = Number(beat.metadata?.[HEART_BEAT_INTERVAL_KEY]);
    return Number.isFinite(fromMetadata) && fromMetadata > 0 ? fromMetadata : this.learnedIntervalMs;
  }
}

function beatKey(serviceName: string, ip: string, port: number): string {
  return `${serviceName}#${ip}#${port}`;
}
