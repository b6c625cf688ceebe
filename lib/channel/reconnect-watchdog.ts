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
  /** When the armed attempt is due (clock time). */
  dueAt: number;
  /** Set while a hurried attempt is armed or runs: where the schedule resumes if it fails. */
  resumeAt: number | undefined;
  /** When the last hurried attempt started (clock time). */
  lastHurriedAt: number;
  /** The backoff ran out: the provider is evicted and probed at the backoff cap. */
  probing: boolean;
}

/**
 * Spacing of the attempts that waiting calls hurry, per connection, however many calls wait: a
 * provider restarted while calls wait for it answers them within about this long after it
 * listens, and a dead one costs at most this many refused connects per second.
 */
export const HURRY_GAP_MS = 50;

/**
 * Reconnects lost connections with exponential backoff and jitter (spread, so a provider
 * restart does not bring every consumer back in the same millisecond), resets on success.
 * When the backoff runs out the provider is evicted: out of load balancing, not out of existence.
 * It is then probed at the backoff cap (with jitter) for as long as a client holds it (discovery
 * lists it), and the first probe that gets the server's Hello re-admits it. Driven by connection
 * state changes; owns no sockets.
 */
export class ReconnectWatchdog {
  private readonly watches = new Map<Connection, Watch>();
  private closed = false;
  private readonly detach: () => void;

  constructor(
    private readonly channels: ChannelCache,
    private readonly backoffOptions: Partial<BackoffOptions>,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    private readonly random: () => number = Math.random,
    private readonly listener: WatchdogListener = {},
  ) {
    this.detach = channels.addListener({
      onStateChange: (c, _from, to, reason) => this.onStateChange(c, to, reason),
      onReconnectRequested: (c, why) => this.hurry(c, why),
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
        if (watch.probing) {
          watch.probing = false;
          this.logger.log(`${connection.address}: answered a probe; back in load balancing`);
        }
      }
      this.channels.readmit(connection.address);
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
   * Tries a lost connection sooner than its next backoff tick, because something suggests the
   * provider is back (the registry announced it again) or calls wait with nothing ready. Hurried
   * attempts on one connection are at least {@link HURRY_GAP_MS} apart, the next one armed for the
   * end of that gap rather than dropped; none when the regular one is due first anyway; and a failed
   * one is not a backoff attempt (the schedule resumes where it was), so hints can neither hammer a
   * dead provider nor get it evicted early.
   */
  private hurry(connection: Connection, why: string): void {
    const watch = this.watches.get(connection);
    if (this.closed || !watch || watch.timer === undefined || connection.state !== 'transient-failure') return;
    const now = this.clock.now();
    const at = Math.max(now, watch.lastHurriedAt + HURRY_GAP_MS);
    if (watch.dueAt <= at) return;
    watch.resumeAt ??= watch.dueAt;
    this.cancelTimer(watch);
    this.logger.debug?.(`${connection.address}: reconnecting in ${Math.round(at - now)} ms (${why}) instead of ${Math.round(watch.dueAt - now)} ms`);
    this.arm(connection, watch, at - now, true);
  }

  private schedule(connection: Connection, reason: Error | undefined): void {
    let watch = this.watches.get(connection);
    if (!watch) {
      watch = {
        backoff: new ExponentialBackoff(this.backoffOptions, this.random),
        timer: undefined,
        dueAt: 0,
        resumeAt: undefined,
        lastHurriedAt: Number.NEGATIVE_INFINITY,
        probing: false,
      };
      this.watches.set(connection, watch);
    }
    this.cancelTimer(watch);
    if (watch.resumeAt !== undefined) {
      // A hurried attempt failed: back to the attempt that was already scheduled.
      const dueAt = watch.resumeAt;
      watch.resumeAt = undefined;
      this.arm(connection, watch, Math.max(0, dueAt - this.clock.now()), false);
      return;
    }
    if (watch.probing) {
      this.arm(connection, watch, watch.backoff.probeDelay(), false);
      return;
    }
    const delay = watch.backoff.next();
    if (delay === null) {
      watch.probing = true;
      const probeIn = watch.backoff.probeDelay();
      this.logger.warn(
        `${connection.address}: unreachable after ${watch.backoff.attempt} reconnect attempts` +
          `${reason ? ` (last error: ${reason.message})` : ''}; evicted from load balancing, probed every ~${Math.round(probeIn / 1000)} s while discovery lists it`,
      );
      this.channels.evict(connection.address, watch.backoff.attempt, reason);
      this.arm(connection, watch, probeIn, false);
      return;
    }
    const attempt = watch.backoff.attempt;
    this.logger.debug?.(`${connection.address}: reconnect attempt ${attempt} in ${Math.round(delay)} ms`);
    this.listener.onReconnectScheduled?.(connection, attempt, delay);
    this.arm(connection, watch, delay, false);
  }

  private arm(connection: Connection, watch: Watch, delay: number, hurried: boolean): void {
    watch.dueAt = this.clock.now() + delay;
    watch.timer = this.clock.setTimeout(() => {
      watch.timer = undefined;
      if (this.closed || connection.state !== 'transient-failure') return;
      if (hurried) watch.lastHurriedAt = this.clock.now();
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
