import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { Connection } from '../connection/connection.js';
import { ConnectionState } from '../connection/connection-state.js';
import { BackoffOptions, resolveBackoffOptions } from '../liveness/backoff-options.js';
import type { ChannelCache } from './channel-cache.js';
import { ExponentialBackoff } from '../liveness/backoff.js';

export interface WatchdogListener {
  /** A reconnect attempt is scheduled (for metrics and events). */
  onReconnectScheduled?(connection: Connection, attempt: number, delayMs: number): void;
}

interface Watch {
  backoff: ExponentialBackoff;
  timer: TimerHandle | undefined;
  /** When the armed attempt is due (clock time). */
  dueAt: number;
  /** Set while an expedited attempt runs: where the schedule resumes if it fails too. */
  resumeAt: number | undefined;
  lastExpeditedAt: number;
}

/** Floor of the spacing between two expedited attempts on one connection. */
const MIN_EXPEDITE_GAP_MS = 100;

/**
 * Reconnects lost connections with exponential backoff and jitter (spread, so a provider
 * restart does not bring every consumer back in the same millisecond), resets on success,
 * and gives up after the last attempt. Driven by connection state changes; owns no sockets.
 */
export class ReconnectWatchdog {
  private readonly watches = new Map<Connection, Watch>();
  private closed = false;

  private readonly detach: () => void;
  /** Expedited attempts on one connection are at least this far apart. */
  private readonly expediteGapMs: number;

  /**
   * Watches every connection of `channels`; a provider that stays unreachable through every
   * attempt is evicted from the cache, which tells every client holding it.
   */
  constructor(
    private readonly channels: ChannelCache,
    private readonly backoffOptions: Partial<BackoffOptions>,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
    private readonly listener: WatchdogListener = {},
  ) {
    this.expediteGapMs = Math.max(MIN_EXPEDITE_GAP_MS, resolveBackoffOptions(backoffOptions, 'backoff').initialDelay);
    this.detach = channels.addListener({
      onStateChange: (c, _from, to, reason) => this.onStateChange(c, to, reason),
      onReconnectRequested: (c, why) => this.expedite(c, why),
    });
  }

  private onStateChange(connection: Connection, to: ConnectionState, reason: Error | undefined): void {
    if (this.closed) return;
    if (to === 'ready') {
      const watch = this.watches.get(connection);
      if (watch) {
        this.cancelTimer(watch);
        watch.backoff.reset();
        watch.resumeAt = undefined;
      }
    } else if (to === 'transient-failure') {
      this.schedule(connection, reason);
    } else if (to === 'closed') {
      this.forget(connection);
    }
  }

  /** Number of connections waiting for a reconnect attempt. */
  get scheduled(): number {
    let n = 0;
    for (const w of this.watches.values()) if (w.timer !== undefined) n++;
    return n;
  }

  forget(connection: Connection): void {
    const watch = this.watches.get(connection);
    if (watch) this.cancelTimer(watch);
    this.watches.delete(connection);
  }

  /** Cancels every pending reconnect. */
  close(): void {
    this.closed = true;
    this.detach();
    for (const watch of this.watches.values()) this.cancelTimer(watch);
    this.watches.clear();
  }

  /**
   * Tries a lost connection now instead of at its next backoff tick, because something suggests
   * the provider is back (the registry announced it again) or a call waits with nothing ready.
   * Only a hint: at most one expedited attempt per {@link expediteGapMs}, none when the regular
   * one is due sooner anyway, and a failed one does not count as a backoff attempt (the schedule
   * resumes where it was), so hints can neither hammer a dead provider nor get it evicted early.
   */
  private expedite(connection: Connection, why: string): void {
    const watch = this.watches.get(connection);
    if (this.closed || !watch || watch.timer === undefined || connection.state !== 'transient-failure') return;
    const now = this.clock.now();
    if (watch.dueAt - now < this.expediteGapMs || now - watch.lastExpeditedAt < this.expediteGapMs) return;
    watch.lastExpeditedAt = now;
    watch.resumeAt = watch.dueAt;
    this.cancelTimer(watch);
    this.logger.debug?.(`${connection.address}: reconnecting now (${why}) instead of in ${Math.round(watch.dueAt - now)} ms`);
    connection.connect().catch(() => undefined);
  }

  private schedule(connection: Connection, reason: Error | undefined): void {
    let watch = this.watches.get(connection);
    if (!watch) {
      watch = {
        backoff: new ExponentialBackoff(this.backoffOptions, this.random),
        timer: undefined,
        dueAt: 0,
        resumeAt: undefined,
        lastExpeditedAt: -Infinity,
      };
      this.watches.set(connection, watch);
    }
    this.cancelTimer(watch);
    if (watch.resumeAt !== undefined) {
      // An expedited attempt failed: back to the attempt that was already scheduled.
      const dueAt = watch.resumeAt;
      watch.resumeAt = undefined;
      this.arm(connection, watch, Math.max(0, dueAt - this.clock.now()));
      return;
    }
    const delay = watch.backoff.next();
    if (delay === null) {
      const attempts = watch.backoff.attempt;
      this.watches.delete(connection);
      this.logger.warn(
        `${connection.address}: unreachable after ${attempts} reconnect attempts` +
          `${reason ? ` (last error: ${reason.message})` : ''}; evicting`,
      );
      this.channels.evict(connection.address, attempts, reason);
      return;
    }
    const attempt = watch.backoff.attempt;
    this.logger.debug?.(`${connection.address}: reconnect attempt ${attempt} in ${Math.round(delay)} ms`);
    this.listener.onReconnectScheduled?.(connection, attempt, delay);
    this.arm(connection, watch, delay);
  }

  private arm(connection: Connection, watch: Watch, delay: number): void {
    watch.dueAt = this.clock.now() + delay;
    watch.timer = this.clock.setTimeout(() => {
      watch.timer = undefined;
      if (this.closed || connection.state !== 'transient-failure') return;
      // A failure comes back through onStateChange and schedules the next attempt.
      connection.connect().catch(() => undefined);
    }, delay);
  }

  private cancelTimer(watch: Watch): void {
    if (watch.timer !== undefined) {
      this.clock.clearTimeout(watch.timer);
      watch.timer = undefined;
    }
  }
}
