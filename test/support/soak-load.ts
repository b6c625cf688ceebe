import { MsRpcRecordBuilder } from '../../lib/client/ms-rpc-record.js';
import type { MsRpcClient } from '../../lib/client/ms-rpc-client.js';
import { CallLedger, type SoakCallKind } from './soak-ledger.js';
import type { SoakRandom } from './soak-random.js';

/** Patterns the soak providers serve (scripts/soak-provider.ts). */
export const SOAK_PATTERNS: Readonly<Record<SoakCallKind, string>> = Object.freeze({
  read: 'soak.read',
  lookup: 'soak.lookup',
  write: 'soak.write',
});

/** Retries of the idempotent calls (client option for `read`, record option for `lookup`). */
export const SOAK_RETRIES = 2;

export interface LoadSettings {
  concurrency: number;
  idempotentShare: number;
  callTimeoutMs: number;
  /** Timeout of the record-based calls (they carry their own). */
  lookupTimeoutMs: number;
  /** Handler time cap of idempotent calls, see {@link idempotentSlowMaxMs}. */
  idempotentSlowMaxMs: number;
}

/** `r3.17`: kind initial, loop, sequence. Unique per run; the kind is readable from the id alone. */
export function soakCallId(kind: SoakCallKind, loop: number, sequence: number): string {
  return `${kind[0]}${loop}.${sequence}`;
}

/** The kind of a call, from its id. */
export function kindOfCallId(id: string): SoakCallKind | undefined {
  return id[0] === 'r' ? 'read' : id[0] === 'l' ? 'lookup' : id[0] === 'w' ? 'write' : undefined;
}

/**
 * Handler time drawn per call: mostly quick, some slower, a few long enough to be in flight when
 * a provider is killed, frozen or drained (up to `slowMaxMs`).
 */
function handlerDelay(random: SoakRandom, slowMaxMs: number): number {
  const r = random.next();
  if (r < 0.85) return random.int(0, 5);
  if (r < 0.98) return random.int(10, 100);
  return random.int(Math.min(200, slowMaxMs), slowMaxMs);
}

/** Slowest handler of a non-idempotent call: a failure is allowed, so any length is fair. */
const WRITE_SLOW_MAX_MS = 1000;

/**
 * Slowest handler an idempotent call may have and still be owed success: two faults may hit one
 * call (one provider after the other), each costing up to the handler time plus the dead-peer
 * detection, and the third attempt needs the handler time again, plus the retry's grace (see
 * ProviderRouter) and some slack. A handler slower than that cannot finish within the deadline
 * under two faults by any transport (short of hedging), so the soak does not ask it to.
 */
export function idempotentSlowMaxMs(deadlineMs: number, heartbeatTimeoutMs: number): number {
  return Math.floor((deadlineMs - 2 * heartbeatTimeoutMs - 300) / 3);
}

/**
 * `concurrency` loops, each sending one call at a time back to back until stopped: the consumer
 * is never idle, so every fault meets calls in flight. Every call goes through the ledger.
 */
export class SoakLoad {
  private running = false;
  private loops: Promise<void>[] = [];
  private sequence = 0;

  constructor(
    private readonly client: MsRpcClient,
    private readonly ledger: CallLedger,
    private readonly settings: LoadSettings,
    private readonly random: SoakRandom,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.settings.concurrency }, (_, i) => this.loop(this.random.fork(), i));
  }

  /** Stops issuing calls and waits for the loops' last calls (bounded: a hung call is abandoned). */
  async stop(maxWaitMs: number): Promise<void> {
    this.running = false;
    const all = Promise.all(this.loops);
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      all.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), maxWaitMs))),
    ]);
    clearTimeout(timer);
    if (!waited) {
      this.ledger.abandonAll();
      await all;
    }
  }

  private async loop(random: SoakRandom, index: number): Promise<void> {
    while (this.running) {
      const r = random.next();
      const kind: SoakCallKind = r >= this.settings.idempotentShare ? 'write' : random.chance(0.5) ? 'read' : 'lookup';
      const slowMaxMs = kind === 'write' ? WRITE_SLOW_MAX_MS : this.settings.idempotentSlowMaxMs;
      await this.call(kind, soakCallId(kind, index, ++this.sequence), handlerDelay(random, slowMaxMs));
    }
  }

  private call(kind: SoakCallKind, id: string, delayMs: number): Promise<void> {
    const payload = { id, delayMs };
    const timeoutMs = kind === 'lookup' ? this.settings.lookupTimeoutMs : this.settings.callTimeoutMs;
    const data =
      kind === 'lookup'
        ? new MsRpcRecordBuilder(payload).setRetries(SOAK_RETRIES).setTimeout(timeoutMs).build()
        : payload;
    this.ledger.start(id, kind, timeoutMs, delayMs);
    return new Promise<void>((resolve) => {
      let answer: { id?: unknown } | undefined;
      let values = 0;
      const subscription = this.client.send<{ id: string }>(SOAK_PATTERNS[kind], data).subscribe({
        next: (value) => {
          values++;
          answer = value;
        },
        error: (err: unknown) => {
          this.ledger.failed(id, err);
          resolve();
        },
        complete: () => {
          if (values > 1) this.ledger.extraValues += values - 1;
          this.ledger.succeeded(id, answer?.id);
          resolve();
        },
      });
      if (!subscription.closed) {
        this.ledger.setAbandon(id, () => {
          subscription.unsubscribe();
          resolve();
        });
      }
    });
  }
}
