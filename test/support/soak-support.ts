import type { ChannelCache } from '../../lib/channel/channel-cache.js';
import type { MsRpcLogger } from '../../lib/common/logger.js';
import type { SoakCallKind } from './soak-ledger.js';
import { kindOfCallId } from './soak-load.js';
import type { SoakProviderProcess } from './soak-provider-process.js';

export function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Server-side executions per call id, as the providers report them (a handler started). A
 * SIGKILL'd provider loses at most its last event-loop turn of reports, so counts are a lower bound.
 */
export class ExecutionLog {
  /** Per call id, the slots that ran it, in order (`'0'`, `'12'`...). */
  private readonly slots = new Map<string, string>();
  readonly bySlot: number[];

  constructor(slots: number) {
    this.bySlot = new Array<number>(slots).fill(0);
  }

  add(slot: number, ids: readonly string[]): void {
    this.bySlot[slot] += ids.length;
    for (const id of ids) this.slots.set(id, (this.slots.get(id) ?? '') + slot);
  }

  count(id: string): number {
    return this.slots.get(id)?.length ?? 0;
  }

  /** The slots that ran `id`, in the order they reported it. */
  ranOn(id: string): number[] {
    return [...(this.slots.get(id) ?? '')].map(Number);
  }

  /** Calls whose handler ran more than once, by kind. */
  executedTwice(): Record<SoakCallKind, number> {
    const out: Record<SoakCallKind, number> = { read: 0, lookup: 0, write: 0 };
    for (const [id, ran] of this.slots) {
      const kind = kindOfCallId(id);
      if (ran.length > 1 && kind) out[kind]++;
    }
    return out;
  }
}

/** Counts warnings and errors of a component and keeps the last few error lines for the report. */
export class LogTally {
  warnings = 0;
  errors = 0;
  readonly last: string[] = [];

  add(level: string, message: string): void {
    if (level === 'warn') this.warnings++;
    else if (level === 'error') {
      this.errors++;
      this.last.push(message.length > 300 ? `${message.slice(0, 300)}…` : message);
      if (this.last.length > 5) this.last.shift();
    }
  }

  logger(): MsRpcLogger {
    return {
      log: () => undefined,
      debug: () => undefined,
      warn: (m) => this.add('warn', m),
      error: (m) => this.add('error', m),
    };
  }
}

/**
 * Waits until the channel cache holds exactly the running providers, each with a ready
 * connection (killed and moved providers gone, restarted ones reconnected), up to `limitMs`.
 * Returns how long it took and, on timeout, what was still wrong.
 */
export async function settleChannels(
  channels: ChannelCache,
  providers: readonly SoakProviderProcess[],
  limitMs: number,
): Promise<{ ms: number; stale: string[]; unready: string[] }> {
  const started = performance.now();
  for (;;) {
    const live = new Set(providers.filter((p) => p.running && !p.paused).map((p) => p.address!));
    const stale = channels.addresses().filter((a) => !live.has(a));
    const unready = [...live].filter((a) => channels.pickAvailable(a) === undefined);
    const ms = Math.round(performance.now() - started);
    if ((stale.length === 0 && unready.length === 0) || ms >= limitMs) return { ms, stale, unready };
    await sleep(50);
  }
}

/** Active handles and requests by type (`TCPSocketWrap`, `Timeout`, `ProcessWrap`...). */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/**
 * Resource types with more entries than in `baseline`, once things had up to `waitMs` to close
 * (sockets and child process handles close a few ticks after their owner says so).
 */
export async function resourceGrowth(baseline: Record<string, number>, waitMs: number): Promise<Record<string, number>> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const growth: Record<string, number> = {};
    for (const [type, n] of Object.entries(activeResources())) {
      if (n > (baseline[type] ?? 0)) growth[type] = n - (baseline[type] ?? 0);
    }
    if (Object.keys(growth).length === 0 || performance.now() >= deadline) return growth;
    await sleep(100);
  }
}
