import { InvalidOptionsError } from '../../lib/errors/invalid-options-error.js';
import { checkInteger, checkNumber, definedOptions } from '../../lib/common/option-checks.js';

/** Settings of one chaos soak run (`npm run soak`, test/hardening/soak.spec.ts). */
export interface SoakOptions {
  /**
   * Length of the loaded run in ms (chaos runs inside it, see `calmMs`).
   * @default 60000
   */
  durationMs: number;
  /**
   * Call loops running back to back on the one consumer.
   * @default 24
   */
  concurrency: number;
  /**
   * Seed of the fault plan and of the call mix (replay a run with the same seed).
   * @default a random 32-bit value, printed in the report
   */
  seed: number;
  /**
   * Share of calls that are idempotent (retried on failure, must never fail); the rest are not.
   * @default 0.7
   */
  idempotentShare: number;
  /**
   * The consumer's call timeout in ms (the record-based idempotent calls use 500 ms less). It also
   * caps how slow idempotent handlers are (see soak-load's idempotentSlowMaxMs).
   * @default 3000
   */
  callTimeoutMs: number;
  /**
   * How much later than its timeout a failure may arrive before it counts as late, and a call
   * still open is flagged hung (ms). Covers event-loop lag on a busy machine.
   * @default 500
   */
  marginMs: number;
  /**
   * The consumer's transport heartbeat interval / dead-peer timeout (ms): how fast a frozen
   * (SIGSTOP'd) or silently gone provider is detected.
   * @default 200 / 600
   */
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /**
   * Pause between two fault injections: uniform in [min, max] ms.
   * @default 500 / 2500
   */
  faultGapMinMs: number;
  faultGapMaxMs: number;
  /**
   * Quiet tail of the run (no new faults, load continues), so the final checks see a settled system.
   * @default 15 % of durationMs, within [2000, 8000]
   */
  calmMs: number;
  /**
   * Length of the one Nacos outage: uniform in [min, max] ms.
   * @default 2000 / 4000
   */
  nacosOutageMinMs: number;
  nacosOutageMaxMs: number;
  /** Progress lines (fault injections, phases); silent when undefined. */
  log?: (line: string) => void;
}

export type ResolvedSoakOptions = Required<Omit<SoakOptions, 'log'>> & Pick<SoakOptions, 'log'>;

export const DEFAULT_SOAK_OPTIONS = Object.freeze({
  durationMs: 60_000,
  concurrency: 24,
  idempotentShare: 0.7,
  callTimeoutMs: 3000,
  marginMs: 500,
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 600,
  faultGapMinMs: 500,
  faultGapMaxMs: 2500,
  nacosOutageMinMs: 2000,
  nacosOutageMaxMs: 4000,
});

/**
 * Nacos test server timings, scaled 5x down from a real server (5 s beats, 15 s unhealthy, 30 s
 * delete) so stale instances of killed providers expire within one run; the outage stays shorter
 * than the unhealthy timeout, as a short network blip would.
 */
export const SOAK_NACOS_TIMINGS = Object.freeze({
  pushDelayMs: 100,
  cacheMillis: 2000,
  clientBeatIntervalMs: 1000,
  heartbeatTimeoutMs: 6000,
  deleteTimeoutMs: 12_000,
});

/** Beat period of the providers' Nacos clients (Nacos' `preserved.heart.beat.interval`). */
export const SOAK_PROVIDER_BEAT_MS = 1000;

export function resolveSoakOptions(partial: Partial<SoakOptions> = {}): ResolvedSoakOptions {
  const defined = definedOptions(partial);
  const durationMs = checkInteger('soak.durationMs', defined.durationMs ?? DEFAULT_SOAK_OPTIONS.durationMs, 5000);
  const o: ResolvedSoakOptions = {
    ...DEFAULT_SOAK_OPTIONS,
    seed: Math.floor(Math.random() * 2 ** 32),
    calmMs: Math.min(8000, Math.max(2000, Math.round(durationMs * 0.15))),
    ...defined,
    durationMs,
  };
  checkInteger('soak.concurrency', o.concurrency, 1, 1024);
  checkInteger('soak.seed', o.seed, 0, 2 ** 32 - 1);
  checkNumber('soak.idempotentShare', o.idempotentShare, 0, 1);
  checkInteger('soak.callTimeoutMs', o.callTimeoutMs, 1000);
  checkInteger('soak.marginMs', o.marginMs, 0);
  checkInteger('soak.heartbeatIntervalMs', o.heartbeatIntervalMs, 1);
  checkInteger('soak.heartbeatTimeoutMs', o.heartbeatTimeoutMs, o.heartbeatIntervalMs + 1);
  checkInteger('soak.faultGapMinMs', o.faultGapMinMs, 50);
  checkInteger('soak.faultGapMaxMs', o.faultGapMaxMs, o.faultGapMinMs);
  checkInteger('soak.nacosOutageMinMs', o.nacosOutageMinMs, 100);
  checkInteger('soak.nacosOutageMaxMs', o.nacosOutageMaxMs, o.nacosOutageMinMs);
  if (o.nacosOutageMaxMs >= SOAK_NACOS_TIMINGS.heartbeatTimeoutMs) {
    throw new InvalidOptionsError('soak.nacosOutageMaxMs', `must stay below the Nacos unhealthy timeout (${SOAK_NACOS_TIMINGS.heartbeatTimeoutMs} ms)`);
  }
  checkInteger('soak.calmMs', o.calmMs, 0, durationMs - 2000);
  // Same bound as soak-load's idempotentSlowMaxMs (not imported: options stay at the bottom of the layering).
  if ((lookupTimeoutMs(o) - 2 * o.heartbeatTimeoutMs - 300) / 3 < 50) {
    throw new InvalidOptionsError(
      'soak.heartbeatTimeoutMs',
      `an idempotent call must survive two failovers within its ${lookupTimeoutMs(o)} ms deadline; lower the heartbeat timeout or raise callTimeoutMs`,
    );
  }
  return o;
}

/** Timeout of the record-based idempotent calls (per-call timeouts exercised too). */
export function lookupTimeoutMs(o: Pick<SoakOptions, 'callTimeoutMs'>): number {
  return o.callTimeoutMs - 500;
}
