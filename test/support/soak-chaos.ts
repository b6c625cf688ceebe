import type { NacosTestServer } from '../../lib/testing/index.js';
import { SOAK_NACOS_TIMINGS } from './soak-options.js';
import { ProviderStartError, type SoakProviderProcess } from './soak-provider-process.js';
import { ShuffleBag, type SoakRandom } from './soak-random.js';

/**
 * - `kill`: SIGKILL, down for a while, restarted on the same port (a crash and a supervisor restart);
 * - `kill-move`: SIGKILL, restarted on a new port (a rescheduled container);
 * - `pause`: SIGSTOP, SIGCONT after a while (a frozen VM, a stop-the-world stall);
 * - `graceful` / `graceful-move`: SIGTERM (deregister, go-away, drain), restarted on the same / a new port (a deploy).
 */
export type FaultKind = 'kill' | 'kill-move' | 'pause' | 'graceful' | 'graceful-move';

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'kill-move', 'pause', 'graceful', 'graceful-move'];

/** At most this many providers are under a fault at once: with 3, one always stays untouched. */
export const MAX_CONCURRENT_FAULTS = 2;

/** Share of kills and pauses that last longer than the Nacos unhealthy timeout. */
const LONG_OUTAGE_SHARE = 0.2;

/** Longest wait for the consumer to use a recovered provider before the fault is closed anyway. */
const CONSUMER_BACK_LIMIT_MS = 35_000;

export interface FaultRecord {
  kind: FaultKind;
  slot: number;
  /** Seconds since the run started. */
  atS: number;
  port: number | undefined;
  /** Port after the restart (kill/graceful kinds). */
  newPort?: number;
  /** Time from the fault to the provider serving again (process ready, or SIGCONT), ms. */
  outageMs: number;
  /** Graceful kinds: how long the SIGTERM'd provider took to drain and exit, ms. */
  drainMs?: number;
  /**
   * From the provider serving again to the consumer having a ready connection to it, ms: how
   * long discovery and the reconnect watchdog leave a recovered provider unused.
   */
  consumerLagMs?: number;
  /** Something unplanned (the old port was taken, a start failed...). */
  note?: string;
}

export interface NacosOutageRecord {
  atS: number;
  durationMs: number;
}

export interface ChaosSettings {
  gapMinMs: number;
  gapMaxMs: number;
  nacosOutageMinMs: number;
  nacosOutageMaxMs: number;
  /** When the outage starts, ms after chaos starts. */
  nacosOutageAtMs: number;
}

/**
 * Injects faults at seeded random intervals until stopped. The one rule that keeps "zero failed
 * idempotent calls" meaningful: a fault only hits a provider when, without it, at least one other
 * provider is untouched AND ready on the consumer (so calls always have somewhere to go), and at
 * most {@link MAX_CONCURRENT_FAULTS} providers are faulted at once. With every provider down, no
 * transport can answer; that case is out of scope by definition. Faults whose rule is not met
 * are put back and drawn again later (`skipped`).
 */
export class ChaosMonkey {
  readonly faults: FaultRecord[] = [];
  readonly nacosOutages: NacosOutageRecord[] = [];
  skipped = 0;
  private readonly faulted = new Set<number>();
  private readonly lifecycles = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly bag: ShuffleBag<FaultKind>;
  /**
   * Victims come from their own stream: which providers are eligible depends on timing, and
   * drawing them from the plan's stream would shift every later gap and duration.
   */
  private readonly victims: SoakRandom;
  private main: Promise<void> | undefined;

  constructor(
    private readonly providers: readonly SoakProviderProcess[],
    private readonly nacos: NacosTestServer,
    private readonly consumerReady: (provider: SoakProviderProcess) => boolean,
    private readonly random: SoakRandom,
    private readonly settings: ChaosSettings,
    private readonly runStartedAt: number,
    private readonly log: (line: string) => void,
  ) {
    this.bag = new ShuffleBag(FAULT_KINDS, random);
    this.victims = random.fork();
  }

  start(): void {
    const outageMs = this.random.int(this.settings.nacosOutageMinMs, this.settings.nacosOutageMaxMs);
    this.main = Promise.all([this.faultLoop(), this.nacosOutage(outageMs)]).then(() => undefined);
  }

  /** Stops injecting, cuts short the down times under way, and waits until every provider serves again. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.main;
    while (this.lifecycles.size > 0) await Promise.all([...this.lifecycles]);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async faultLoop(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.random.int(this.settings.gapMinMs, this.settings.gapMaxMs));
      if (this.stopped) return;
      const kind = this.bag.next();
      // Drawn before the victim, so the plan (kinds, gaps, durations) follows the seed whatever the timing.
      const downMs = kind === 'pause' ? this.downTime(200, 3000) : kind.startsWith('kill') ? this.downTime(300, 3000) : this.random.int(0, 1000);
      const victim = this.pickVictim();
      if (!victim) {
        this.bag.putBack(kind);
        this.skipped++;
        continue;
      }
      this.faulted.add(victim.slot);
      const lifecycle = this.inject(kind, victim, downMs).finally(() => {
        this.faulted.delete(victim.slot);
        this.lifecycles.delete(lifecycle);
      });
      this.lifecycles.add(lifecycle);
    }
  }

  private pickVictim(): SoakProviderProcess | undefined {
    if (this.faulted.size >= MAX_CONCURRENT_FAULTS) return undefined;
    const untouched = this.providers.filter((p) => !this.faulted.has(p.slot) && p.running);
    const eligible = untouched.filter((victim) => untouched.some((other) => other !== victim && this.consumerReady(other)));
    return eligible.length === 0 ? undefined : this.victims.pick(eligible);
  }

  /** `downMs`: how long the provider stays frozen / down; for graceful kinds, the pause before the restart. */
  private async inject(kind: FaultKind, p: SoakProviderProcess, downMs: number): Promise<void> {
    const record: FaultRecord = { kind, slot: p.slot, atS: this.elapsedS(), port: p.port, outageMs: 0 };
    this.faults.push(record);
    const started = performance.now();
    this.log(`fault ${kind} on provider ${p.slot} (port ${p.port})`);
    try {
      switch (kind) {
        case 'pause':
          p.pause();
          try {
            await this.sleep(downMs);
          } finally {
            p.resume();
          }
          break;
        case 'kill':
        case 'kill-move':
          await p.kill();
          await this.sleep(downMs);
          record.newPort = await this.restart(p, kind === 'kill' ? p.port! : 0, record);
          break;
        case 'graceful':
        case 'graceful-move': {
          const drained = await p.terminate();
          record.drainMs = Math.round(drained.ms);
          if (!drained.graceful) record.note = 'did not exit gracefully within its shutdown timeout';
          await this.sleep(downMs);
          record.newPort = await this.restart(p, kind === 'graceful' ? p.port! : 0, record);
          break;
        }
      }
      record.outageMs = Math.round(performance.now() - started);
      record.consumerLagMs = await this.consumerBack(p);
    } catch (err) {
      record.outageMs = Math.round(performance.now() - started);
      record.note = `${record.note ? `${record.note}; ` : ''}${(err as Error).message}`;
      this.log(`fault ${kind} on provider ${p.slot}: ${(err as Error).message}`);
    }
  }

  /**
   * Waits until the consumer uses the recovered provider again (the slot stays faulted until
   * then: from the consumer's side it is still down). Bounded, so a consumer that never comes
   * back cannot stall the run; the end-of-run checks report it.
   */
  private async consumerBack(p: SoakProviderProcess): Promise<number> {
    const started = performance.now();
    while (!this.consumerReady(p) && performance.now() - started < CONSUMER_BACK_LIMIT_MS && p.running) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return Math.round(performance.now() - started);
  }

  /**
   * Mostly a short outage in [min, max] ms; one in five outlasts the Nacos unhealthy timeout, so
   * the registry too reports the provider gone (and back) while it is down or frozen.
   */
  private downTime(min: number, max: number): number {
    const long = SOAK_NACOS_TIMINGS.heartbeatTimeoutMs;
    return this.random.chance(LONG_OUTAGE_SHARE) ? this.random.int(long + 500, long + 3000) : this.random.int(min, max);
  }

  /**
   * Starts the provider again on `port`. A port just released can be taken meanwhile (another
   * process, or an outgoing connection's ephemeral port); after a few tries it moves to a new port.
   */
  private async restart(p: SoakProviderProcess, port: number, record: FaultRecord): Promise<number> {
    for (let attempt = 1; port !== 0 && attempt <= 5; attempt++) {
      try {
        return await p.start(port);
      } catch (err) {
        if (!(err instanceof ProviderStartError) || attempt === 5) {
          record.note = `restart on port ${port} failed (${(err as Error).message}); moved to a new port`;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    try {
      return await p.start(0);
    } catch {
      // One more try: a start can fail under load (e.g. a slow Nest bootstrap hitting its timeout).
      return p.start(0);
    }
  }

  /** The one Nacos outage of the run: the server stops (state kept, as in a network outage) and comes back. */
  private async nacosOutage(plannedMs: number): Promise<void> {
    await this.sleep(this.settings.nacosOutageAtMs);
    if (this.stopped) return;
    const atS = this.elapsedS();
    this.log(`Nacos outage for ${plannedMs} ms`);
    const started = performance.now();
    await this.nacos.stop();
    // Not cut short by stop(): the outage is part of what the run must survive.
    await new Promise((resolve) => setTimeout(resolve, plannedMs));
    // Its port was free for seconds: an outgoing connection may hold it as its local port for a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.nacos.start();
        break;
      } catch (err) {
        if (attempt === 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    this.nacosOutages.push({ atS, durationMs: Math.round(performance.now() - started) });
    this.log('Nacos back');
  }

  /** Sleeps `ms`, or less when the monkey is stopped. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done);
    });
  }

  private elapsedS(): number {
    return +((performance.now() - this.runStartedAt) / 1000).toFixed(2);
  }
}
