import type { Clock, TimerHandle } from '../common/clock.js';
import { timerDelay } from './timer-delay.js';

/**
 * One timer set for a clock time, re-set or cleared at will: what the deadline queue, the
 * server's idle sweep and the client's heartbeats each arm for their earliest due moment.
 *
 * A callback the runtime had already queued when the alarm was cleared or re-set is ignored (a
 * generation count), so an owner never sees a stale firing. The delay goes through
 * {@link timerDelay} (never negative, clamped below Node's limit); the Clock's timers are unref()'d.
 */
export class Alarm {
  private timer: TimerHandle | undefined;
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
    this.clear();
    const generation = this.generation;
    this.at = at;
    this.timer = this.clock.setTimeout(() => this.fire(generation), timerDelay(at - this.clock.now()));
  }

  /** Nothing fires until the next {@link setFor}. */
  clear(): void {
    this.generation++;
    this.at = Number.POSITIVE_INFINITY;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private fire(generation: number): void {
    if (generation !== this.generation) return;
    this.timer = undefined;
    this.at = Number.POSITIVE_INFINITY;
    this.onFire();
  }
}
