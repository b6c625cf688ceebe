import { MsRpcError } from '../../lib/errors/ms-rpc-error.js';

/** How a call was declared: idempotent through the client's `idempotentPatterns`, through a record's `setRetries()`, or not at all. */
export type SoakCallKind = 'read' | 'lookup' | 'write';

export const IDEMPOTENT_KINDS: readonly SoakCallKind[] = ['read', 'lookup'];

interface OpenCall {
  kind: SoakCallKind;
  /** How long the handler was asked to take. */
  delayMs: number;
  startedAt: number;
  timeoutMs: number;
  hung: boolean;
  /** Ends the subscription of a call abandoned at the end of the run. */
  abandon?: () => void;
}

/** Outcome counters of one kind of call. */
export interface KindTally {
  started: number;
  succeeded: number;
  failed: number;
  /** Failures by error class name (`ConnectionClosedError`, `RpcTimeoutError`, ...). */
  failedBy: Record<string, number>;
  /** Failures by message, with addresses and numbers blanked (`closed: heartbeat timeout...`). */
  failedByReason: Record<string, number>;
  /** Failures that were not an MsRpcError (a raw Error, a remote error object...). */
  untypedFailures: number;
  /** Outcomes (success or failure) that arrived later than timeout + margin. */
  late: number;
  /** Calls flagged by the watchdog: still open at timeout + margin. */
  hung: number;
  /** Calls still open when the run ended (abandoned, counted in `hung` too). */
  neverSettled: number;
}

export interface FailureSample {
  id: string;
  /** The handler time the call asked for. */
  delayMs: number;
  /** Provider slots whose handler ran the call (filled in at the end of the run). */
  ranOn?: number[];
  kind: SoakCallKind;
  error: string;
  code?: string;
  message: string;
  ms: number;
  atS: number;
}

const MAX_SAMPLES = 25;
const SLOWEST_KEPT = 10;

/** A failure's message as a category: the same cause on any provider or at any time counts once. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : JSON.stringify(error) ?? String(error);
  return message
    .replace(/\[?[0-9a-f.:]+\]?:\d+/gi, '<addr>')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
}

function newTally(): KindTally {
  return { started: 0, succeeded: 0, failed: 0, failedBy: {}, failedByReason: {}, untypedFailures: 0, late: 0, hung: 0, neverSettled: 0 };
}

/**
 * Accounts for every call of the soak from start to end: outcome, latency, error type, whether it
 * came in time, whether anything was answered twice or to the wrong caller. Only open calls are
 * kept individually (a few dozen); finished ones become counters, latencies and a few samples, so
 * a long run stays small. {@link sweep} is the per-call watchdog: one periodic pass instead of a
 * timer per call.
 */
export class CallLedger {
  private readonly open = new Map<string, OpenCall>();
  readonly tallies: Record<SoakCallKind, KindTally> = { read: newTally(), lookup: newTally(), write: newTally() };
  /** Latencies (ms) of successful calls, in order. */
  private latencies = new Float64Array(1 << 16);
  private latencyCount = 0;
  /** Largest time (ms) any failed call took to fail. */
  slowestFailureMs = 0;
  /** A second terminal packet (answer or error) for a call that had already ended. */
  duplicates = 0;
  /** An answer that carried another call's id (misrouted). */
  mismatched = 0;
  /** Extra values on a unary call (more than one response before the end). */
  extraValues = 0;
  /** Ids of non-idempotent calls that failed, to match against server-side executions. */
  readonly failedWriteIds: string[] = [];
  readonly samples: FailureSample[] = [];
  /** The slowest successful calls (longest first), to explain the latency tail. */
  readonly slowest: Array<{ id: string; kind: SoakCallKind; ms: number; atS: number }> = [];
  readonly hungIds: string[] = [];

  constructor(
    private readonly marginMs: number,
    private readonly runStartedAt: number,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  start(id: string, kind: SoakCallKind, timeoutMs: number, delayMs: number): void {
    this.open.set(id, { kind, delayMs, startedAt: performance.now(), timeoutMs, hung: false });
    this.tallies[kind].started++;
  }

  setAbandon(id: string, abandon: () => void): void {
    const call = this.open.get(id);
    if (call) call.abandon = abandon;
  }

  succeeded(id: string, answerId: unknown): void {
    const call = this.take(id);
    if (!call) return;
    if (answerId !== id) this.mismatched++;
    const ms = performance.now() - call.startedAt;
    const tally = this.tallies[call.kind];
    tally.succeeded++;
    if (ms > call.timeoutMs + this.marginMs) tally.late++;
    this.recordLatency(ms);
    if (this.slowest.length < SLOWEST_KEPT || ms > this.slowest[this.slowest.length - 1].ms) {
      this.slowest.push({ id, kind: call.kind, ms: Math.round(ms), atS: +((call.startedAt - this.runStartedAt) / 1000).toFixed(2) });
      this.slowest.sort((a, b) => b.ms - a.ms);
      if (this.slowest.length > SLOWEST_KEPT) this.slowest.pop();
    }
  }

  failed(id: string, error: unknown): void {
    const call = this.take(id);
    if (!call) return;
    const ms = performance.now() - call.startedAt;
    const tally = this.tallies[call.kind];
    tally.failed++;
    const typed = error instanceof MsRpcError;
    const name = typed ? error.name : error instanceof Error ? `untyped ${error.name}` : 'untyped non-Error';
    tally.failedBy[name] = (tally.failedBy[name] ?? 0) + 1;
    const reason = reasonOf(error);
    tally.failedByReason[reason] = (tally.failedByReason[reason] ?? 0) + 1;
    if (!typed) tally.untypedFailures++;
    if (ms > call.timeoutMs + this.marginMs) tally.late++;
    this.slowestFailureMs = Math.max(this.slowestFailureMs, ms);
    if (call.kind === 'write') this.failedWriteIds.push(id);
    // Idempotent failures are what the run must explain (there should be none): keep every one.
    if (this.samples.length < MAX_SAMPLES || call.kind !== 'write') {
      this.samples.push({
        id,
        kind: call.kind,
        delayMs: call.delayMs,
        error: name,
        code: typed ? error.code : undefined,
        message: error instanceof Error ? error.message : JSON.stringify(error),
        ms: Math.round(ms),
        atS: +((performance.now() - this.runStartedAt) / 1000).toFixed(2),
      });
    }
  }

  /** The watchdog pass: flags every call open longer than its timeout + margin (once). */
  sweep(): void {
    const now = performance.now();
    for (const [id, call] of this.open) {
      if (call.hung || now - call.startedAt <= call.timeoutMs + this.marginMs) continue;
      call.hung = true;
      this.tallies[call.kind].hung++;
      if (this.hungIds.length < MAX_SAMPLES) this.hungIds.push(id);
    }
  }

  /** End of the run: every call still open is hung; ends their subscriptions. */
  abandonAll(): void {
    this.sweep();
    for (const [id, call] of [...this.open]) {
      this.open.delete(id);
      const tally = this.tallies[call.kind];
      tally.neverSettled++;
      if (!call.hung) {
        tally.hung++;
        if (this.hungIds.length < MAX_SAMPLES) this.hungIds.push(id);
      }
      call.abandon?.();
    }
  }

  /** Latency percentiles of successful calls, in ms. */
  latency(): { p50: number; p99: number; p999: number; max: number; count: number } {
    const sorted = this.latencies.slice(0, this.latencyCount).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]);
    const round = (v: number) => +v.toFixed(2);
    return { p50: round(at(0.5)), p99: round(at(0.99)), p999: round(at(0.999)), max: round(sorted.at(-1) ?? 0), count: sorted.length };
  }

  private take(id: string): OpenCall | undefined {
    const call = this.open.get(id);
    if (!call) {
      // The call already ended (or was abandoned): a second outcome is a duplicate answer.
      this.duplicates++;
      return undefined;
    }
    this.open.delete(id);
    return call;
  }

  private recordLatency(ms: number): void {
    if (this.latencyCount === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.latencyCount++] = ms;
  }
}
