import { Clock, systemClock, wallTime } from '../common/clock.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import { Balancer, Candidate, candidateWeight, isStableList, PickContext } from './balancer.js';

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

/**
 * How long a frozen list's ramped weights are reused, as a share of `warmupMs`: a weight moves by
 * at most 0.1 % of its full value in between (10 minutes of warm-up: a refresh every 600 ms).
 */
const REFRESH_SHARE = 0.001;

/** A candidate with its ramped weight; instance and in-flight count are read through to the caller's. */
class WarmedCandidate<C extends Candidate> implements Candidate {
  constructor(
    readonly source: C,
    readonly weight: number,
  ) {}

  get instance(): ServiceInstance {
    return this.source.instance;
  }

  get inFlight(): number {
    return this.source.inFlight;
  }
}

/** The caller's own candidate behind what the inner balancer picked. */
function sourceOf<C extends Candidate>(picked: Candidate): C {
  return (picked instanceof WarmedCandidate ? picked.source : picked) as C;
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
 *
 * A frozen list (the router's, see Balancer) is read once: its start times are parsed when it is
 * first seen, and its ramped weights are computed into a frozen list of their own, reused for
 * `warmupMs / 1000` (then recomputed), so that the inner balancer keeps its own per-list state
 * too. With nobody warming, a pick costs one clock reading until the next provider's warm-up is due.
 */
export class WarmupBalancer implements Balancer {
  readonly name: string;
  /** The frozen list last seen, and what was derived from it. */
  private list: readonly Candidate[] | undefined;
  /** `startTime` of each candidate of `list` (NaN: unknown, counts as warm). */
  private starts: Float64Array | undefined;
  /** What the inner balancer picks from: `list` itself, or its ramped copy. */
  private view: readonly Candidate[] | undefined;
  /** `view` holds for wall times in [validFrom, validUntil). */
  private validFrom = 0;
  private validUntil = 0;

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
    if (candidates === this.list || isStableList(candidates)) return this.pickStable(candidates, context);
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
      warmed[i] = new WarmedCandidate(c, candidateWeight(c) * factor);
    }
    return this.inner.pick(warmed, context)?.source;
  }

  private pickStable<C extends Candidate>(candidates: readonly C[], context: PickContext | undefined): C | undefined {
    if (candidates !== this.list) {
      this.list = candidates;
      this.starts = Float64Array.from(candidates, (c) => providerStartTime(c.instance) ?? NaN);
      this.validUntil = this.validFrom = 0;
    }
    const now = wallTime(this.clock);
    if (now >= this.validUntil || now < this.validFrom) this.refresh(candidates, now);
    const view = this.view!;
    if (view === candidates) return this.inner.pick(candidates, context);
    const picked = this.inner.pick(view, context);
    return picked === undefined ? undefined : sourceOf<C>(picked);
  }

  /** Computes the view of `list` at `now`, and until when it holds. */
  private refresh(list: readonly Candidate[], now: number): void {
    const starts = this.starts!;
    const w = this.warmupMs;
    // The next time a warm provider starts ramping: a start more than warmupMs ahead of us
    // (a broken clock, counted as warm) comes within reach at start − warmupMs.
    let nextChange = Number.MAX_VALUE;
    let warming = false;
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i];
      if (start !== start) continue; // NaN: unknown start, warm for good
      if (now < start - w) nextChange = Math.min(nextChange, start - w);
      else if (now < start + w) warming = true;
    }
    this.validFrom = now;
    if (!warming) {
      this.view = list;
      this.validUntil = nextChange;
      return;
    }
    const view = new Array<Candidate>(list.length);
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      const factor = starts[i] !== starts[i] ? 1 : warmupFactor(starts[i], now, w);
      view[i] = factor < 1 ? new WarmedCandidate(c, candidateWeight(c) * factor) : c;
    }
    this.view = Object.freeze(view);
    this.validUntil = Math.min(nextChange, now + Math.max(1, w * REFRESH_SHARE));
  }

  /** The weight `candidate` would get now (for diagnostics and tests). */
  weightOf(candidate: Candidate): number {
    return candidateWeight(candidate) * warmupFactor(providerStartTime(candidate.instance), wallTime(this.clock), this.warmupMs);
  }
}
