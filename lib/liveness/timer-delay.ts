/**
 * Node turns any `setTimeout` delay above 2^31-1 ms into 1 ms (with a warning), so a far-away
 * deadline would fire immediately and, re-armed, spin. Components clamp instead: the timer then
 * fires early, finds nothing due and re-arms for the remainder.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Delay to hand to `Clock.setTimeout` for a deadline `msFromNow` away: never negative, rounded up
 * (firing a fraction of a millisecond early would only cost a useless wake-up), at most
 * {@link MAX_TIMER_DELAY_MS}.
 */
export function timerDelay(msFromNow: number): number {
  if (!(msFromNow > 0)) return 0;
  return Math.min(MAX_TIMER_DELAY_MS, Math.ceil(msFromNow));
}
