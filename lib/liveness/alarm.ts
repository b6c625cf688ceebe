import type { Clock, TimerHandle } from '../common/clock.js';
import { timerDelay } from './timer-delay.js';

/**
 * One timer set for a clock time, re-set or cleared at will: what the deadline queue, the
 * server's idle sweep and the client's heartbeats each arm for their earliest due moment.
 *
 * A callback the runtime had already queued when the alarm was cleared or re-set is ignored (a
 * generation count), so an owner never sees a stale firing. The delay goes through
 * {@link timerDelay} (never negative, clamped below Node's limit); the Clock's timers are unref()'d.
 *
 * Setting the alarm later than a runtime timer already armed keeps that timer: it fires, finds
 * the alarm due later and re-arms once for the rest. With {@link relax} (nothing is due for now,
 * but something soon will be), an owner that empties and refills, such as a deadline queue with
 * one call at a time, creates one runtime timer per timeout period instead of one per call.
 */
export class Alarm {
  private timer: TimerHandle | undefined;
  /** Clock time the runtime timer fires; +Infinity when none is armed. */
  private timerAt = Number.POSITIVE_INFINITY;
  private generation = 0;
  private at = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onFire: () => void,
  ) {}

  /** Clock time the alarm fires; +Infinity when it is not set. */
  get armedFor(): number {
    return this.at;
  }

  /** Sets the alarm for clock time `at`, replacing any earlier setting. */
  setFor(at: number): void {
    this.at = at;
    // The armed timer fires first and re-arms for `at` then (see fire()).
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.arm(at);
  }

  /**
   * Nothing fires until the next {@link setFor}, but a runtime timer already armed stays, to be
   * reused by that setFor; if none comes, it lapses without effect (it is unref'd). Use
   * {@link clear} when the owner closes.
   */
  relax(): void {
    this.at = Number.POSITIVE_INFINITY;
  }

  /** Nothing fires until the next {@link setFor}, and the runtime timer is cancelled. */
  clear(): void {
    this.at = Number.POSITIVE_INFINITY;
    this.drop();
  }

  private arm(at: number): void {
    this.drop();
    const generation = this.generation;
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(generation), timerDelay(at - this.clock.now()));
  }

  private drop(): void {
    this.generation++;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private fire(generation: number): void {
    if (generation !== this.generation) return;
    const firedFor = this.timerAt;
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const at = this.at;
    if (at === Number.POSITIVE_INFINITY) return; // relaxed: nothing is due
    // A timer kept from an earlier setting, and the alarm itself is not due yet (a late firing
    // may find it due already: no extra loop turn then).
    if (at > firedFor && at > this.clock.now()) return this.arm(at);
    this.at = Number.POSITIVE_INFINITY;
    this.onFire();
  }
}
