import type { Clock } from '../common/clock.js';
import { checkInteger } from '../common/option-checks.js';
import { Alarm } from './alarm.js';
import { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/** A member of an {@link IdleSweep}: its owner stores the clock time of every read in `lastReadAt`. */
export interface IdleSweepMember {
  /** Clock time of the last read (set by the sweep on `add`, then by the owner). */
  lastReadAt: number;
  /** Nothing was read for at least `idleMs`. Called once: the member has left the sweep by then. */
  onIdle(idleForMs: number): void;
}

/**
 * Reader-idle detection for many connections with one timer, for when every member shares the same
 * idle time (a server's `idleTimeout`).
 *
 * A monitor per connection costs a timer, its callbacks and their closures (about 0.4 KiB of heap
 * per connection) and a timer re-arm per connection per idle period. Here a read stays one
 * store into the member, and one timer wakes for the earliest deadline, scans every member and
 * re-arms. Wake-ups are at least `idleMs / 20` apart, so a crowd of members with distinct
 * deadlines costs at most 20 scans per idle period: a member is cut between `idleMs` and
 * `idleMs * 1.05` after its last read.
 */
export class IdleSweep {
  private readonly members = new Set<IdleSweepMember>();
  private readonly granularityMs: number;
  private readonly alarm: Alarm;
  private closed = false;

  /** @throws InvalidOptionsError when `idleMs` is not a positive integer timer delay. */
  constructor(
    readonly idleMs: number,
    readonly clock: Clock,
  ) {
    checkInteger('idleSweep.idleMs', idleMs, 1, MAX_TIMER_DELAY_MS);
    this.granularityMs = Math.max(1, Math.ceil(idleMs / 20));
    this.alarm = new Alarm(clock, () => this.sweep());
  }

  get size(): number {
    return this.members.size;
  }

  /** Starts watching `member`, counting from now. No-op once closed. */
  add(member: IdleSweepMember): void {
    if (this.closed) return;
    const now = this.clock.now();
    member.lastReadAt = now;
    this.members.add(member);
    this.arm(now + this.idleMs);
  }

  /** Stops watching `member` (its connection closed). The timer goes with the last member. */
  delete(member: IdleSweepMember): void {
    if (!this.members.delete(member) || this.members.size > 0) return;
    this.alarm.clear();
  }

  /** Stops the timer and forgets every member; nothing fires afterwards. */
  close(): void {
    this.closed = true;
    this.members.clear();
    this.alarm.clear();
  }

  /** Arms for `at` unless the timer already fires earlier. */
  private arm(at: number): void {
    if (this.alarm.armedFor > at) this.alarm.setFor(at);
  }

  private sweep(): void {
    const now = this.clock.now();
    const idleMs = this.idleMs;
    let earliest = Number.POSITIVE_INFINITY;
    let expired: IdleSweepMember[] | undefined;
    for (const member of this.members) {
      const deadline = member.lastReadAt + idleMs;
      if (deadline <= now) (expired ??= []).push(member);
      else if (deadline < earliest) earliest = deadline;
    }
    let failure: unknown;
    if (expired) {
      for (const member of expired) this.members.delete(member);
      // Callbacks run after the scan: one that closes other members cannot disturb it.
      for (const member of expired) {
        try {
          member.onIdle(now - member.lastReadAt);
        } catch (err) {
          failure ??= err;
        }
      }
    }
    if (this.members.size > 0 && !this.closed) {
      this.arm(Math.max(earliest === Number.POSITIVE_INFINITY ? now + idleMs : earliest, now + this.granularityMs));
    }
    // Owners must not throw: the others were served and the sweep re-armed,
    // and the error surfaces as an uncaught exception instead of vanishing.
    if (failure !== undefined) throw failure;
  }
}
