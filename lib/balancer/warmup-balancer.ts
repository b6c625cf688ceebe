import { Clock, systemClock, wallTime } from '../common/clock.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import { Balancer, Candidate, candidateWeight, PickContext } from './balancer.js';

// Not the global `Infinity`: read per candidate per call, and global lookups are slow where they go
// through an interceptor (jest's vm contexts).
const MAX_TIME = Number.MAX_VALUE;

/** Dubbo's default warm-up period: 10 minutes. */
export const DEFAULT_WARMUP_MS = 600_000;

/** A provider fresh out of the box still gets this share of its weight, never 0. */
export const MIN_WARMUP_FACTOR = 0.01;

/**
 * The provider's start, from the `startTime` metadata (ms since the epoch, as MsRpcServer
 * registers it), or undefined when missing or not a positive number.
 */
export function providerStartTime(instance: ServiceInstance): number | undefined {
  const raw = instance.metadata?.startTime;
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  const start = +raw;
  return start > 0 && start <= MAX_TIME ? start : undefined;
}

/**
 * The share of its weight a provider gets at `now`: uptime / warmupMs, at least
 * {@link MIN_WARMUP_FACTOR}, 1 once warm. Unknown start times count as warm (static providers,
 * other servers). A start slightly in the future is clock skew between hosts: the provider counts
 * as just started; one more than `warmupMs` ahead is a broken clock and counts as warm rather
 * than throttling the provider for as long as the skew lasts.
 */
export function warmupFactor(startTime: number | undefined, now: number, warmupMs: number): number {
  if (startTime === undefined || warmupMs <= 0) return 1;
  const uptime = now - startTime;
  if (uptime >= warmupMs || uptime < -warmupMs) return 1;
  const factor = uptime / warmupMs;
  return factor > MIN_WARMUP_FACTOR ? factor : MIN_WARMUP_FACTOR;
}

interface WarmedCandidate<C> extends Candidate {
  readonly source: C;
}

/**
 * Warm-up (Dubbo, Jupiter): a provider started less than `warmupMs` ago gets
 * weight × uptime / warmupMs, so a cold JVM-like process (empty caches, lazy connections, JIT)
 * is ramped up instead of taking its full share at once. Wraps any balancer, which then sees the
 * ramped weights through {@link Candidate.weight}; the returned candidate is the caller's own.
 *
 * When no candidate is warming (the steady state) the list is handed through untouched: the only
 * cost is reading each `startTime`. Otherwise one wrapper per candidate is allocated for the pick.
 * Uptime is read against the clock's wall time ({@link Clock.wallNow}), as `startTime` is wall
 * time published by another host; a monotonic reading would mean nothing next to it.
 */
export class WarmupBalancer implements Balancer {
  readonly name: string;

  constructor(
    readonly inner: Balancer,
    readonly warmupMs: number = DEFAULT_WARMUP_MS,
    private readonly clock: Clock = systemClock,
  ) {
    this.name = inner.name;
  }

  pick<C extends Candidate>(candidates: readonly C[], context?: PickContext): C | undefined {
    const n = candidates.length;
    if (n <= 1) return this.inner.pick(candidates, context);
    const now = wallTime(this.clock);
    let firstWarming = -1;
    for (let i = 0; i < n && firstWarming < 0; i++) {
      if (warmupFactor(providerStartTime(candidates[i].instance), now, this.warmupMs) < 1) firstWarming = i;
    }
    if (firstWarming < 0) return this.inner.pick(candidates, context);

    const warmed = new Array<WarmedCandidate<C>>(n);
    for (let i = 0; i < n; i++) {
      const c = candidates[i];
      const factor = i < firstWarming ? 1 : warmupFactor(providerStartTime(c.instance), now, this.warmupMs);
      warmed[i] = { instance: c.instance, inFlight: c.inFlight, weight: candidateWeight(c) * factor, source: c };
    }
    return this.inner.pick(warmed, context)?.source;
  }

  /** The weight `candidate` would get now (for diagnostics and tests). */
  weightOf(candidate: Candidate): number {
    return candidateWeight(candidate) * warmupFactor(providerStartTime(candidate.instance), wallTime(this.clock), this.warmupMs);
  }
}
