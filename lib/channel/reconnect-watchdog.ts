import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { Connection } from '../connection/connection.js';
import { ConnectionState } from '../connection/connection-state.js';
import { BackoffOptions } from '../liveness/backoff-options.js';
import type { ChannelCache } from './channel-cache.js';
import { ExponentialBackoff } from '../liveness/backoff.js';

export interface WatchdogListener {
  /** A reconnect attempt is scheduled (for metrics and events). */
  onReconnectScheduled?(connection: Connection, attempt: number, delayMs: number): void;
}

interface Watch {
  backoff: ExponentialBackoff;
  timer: TimerHandle | undefined;
}

/**
 * Reconnects lost connections with exponential backoff and jitter (spread, so a provider
 * restart does not bring every consumer back in the same millisecond), resets on success,
 * and gives up after the last attempt. Driven by connection state changes; owns no sockets.
 */
export class ReconnectWatchdog {
  private readonly watches = new Map<Connection, Watch>();
  private closed = false;

  private readonly detach: () => void;

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
    this.detach = channels.addListener({ onStateChange: (c, _from, to, reason) => this.onStateChange(c, to, reason) });
  }

  private onStateChange(connection: Connection, to: ConnectionState, reason: Error | undefined): void {
    if (this.closed) return;
    if (to === 'ready') {
      const watch = this.watches.get(connection);
      if (watch) {
        this.cancelTimer(watch);
        watch.backoff.reset();
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

  private schedule(connection: Connection, reason: Error | undefined): void {
    let watch = this.watches.get(connection);
    if (!watch) {
      watch = { backoff: new ExponentialBackoff(this.backoffOptions, this.random), timer: undefined };
      this.watches.set(connection, watch);
    }
    this.cancelTimer(watch);
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
    const w = watch;
    w.timer = this.clock.setTimeout(() => {
      w.timer = undefined;
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
