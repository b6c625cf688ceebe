/**
 * Well-formed consumers calling the server under attack: real MsRpcClients (one JSON, one
 * MessagePack, so garbage on other connections cannot corrupt a shared decoder unnoticed), each
 * keeping `concurrency` echo calls in flight and checking every answer against what it sent.
 */
import { isDeepStrictEqual } from 'node:util';
import { firstValueFrom } from 'rxjs';
import { MsRpcClient, type MsRpcLogger } from '../lib/index.js';
import { FUZZ_PATTERNS } from './fuzz-wire.js';
import { FuzzRandom } from './fuzz-random.js';

export interface WellFormedOptions {
  host: string;
  port: number;
  clients: number;
  /** Calls each client keeps in flight. */
  concurrency: number;
  seed: number;
  /** Per-call timeout (ms): generous, a loaded box must not turn slowness into failures. */
  timeout: number;
  /**
   * Pause between one answer and the next call of a loop (ms): a steady load to measure, not a
   * benchmark competing with the attack for the CPU.
   */
  pauseMs: number;
}

export interface WellFormedResult {
  calls: number;
  failures: number;
  /** The first few failures, for the report. */
  failureSamples: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Warnings and errors the clients logged (reconnects would show here). */
  clientWarnings: string[];
}

export class WellFormedLoad {
  private readonly clients: MsRpcClient[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly latencies: number[] = [];
  private readonly failureSamples: string[] = [];
  private readonly warnings: string[] = [];
  private calls = 0;
  private failures = 0;
  private running = false;

  constructor(private readonly options: WellFormedOptions) {}

  /** Connects every client (resolves once each has its connection). */
  async start(): Promise<void> {
    const logger: MsRpcLogger = {
      log: () => undefined,
      warn: (m) => void this.warnings.push(m),
      error: (m) => void this.warnings.push(m),
    };
    for (let i = 0; i < this.options.clients; i++) {
      this.clients.push(
        new MsRpcClient({
          providers: [`${this.options.host}:${this.options.port}`],
          codec: i % 2 === 0 ? 'json' : 'msgpack',
          timeout: this.options.timeout,
          snapshotDir: false,
          logger,
        }),
      );
    }
    await Promise.all(this.clients.map((c) => c.connect()));
    this.running = true;
    const rng = new FuzzRandom(this.options.seed);
    for (const client of this.clients) {
      for (let j = 0; j < this.options.concurrency; j++) this.loops.push(this.loop(client, rng.fork()));
    }
  }

  /** Latencies recorded so far are dropped: measure from here (e.g. once the attack starts). */
  resetLatencies(): void {
    this.latencies.length = 0;
  }

  private stopped: Promise<WellFormedResult> | undefined;

  /** Stops calling, waits for the calls in flight, closes the clients. Safe to call twice. */
  stop(): Promise<WellFormedResult> {
    return (this.stopped ??= this.finish());
  }

  private async finish(): Promise<WellFormedResult> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((c) => c.close()));
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
    return {
      calls: this.calls,
      failures: this.failures,
      failureSamples: this.failureSamples,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted.length ? sorted[sorted.length - 1] : 0,
      clientWarnings: this.warnings,
    };
  }

  private async loop(client: MsRpcClient, rng: FuzzRandom): Promise<void> {
    while (this.running) {
      // Small integers included: in MessagePack 0x40-0x7f are also record references, the first
      // thing a decoder polluted by another connection's record definitions would get wrong.
      const payload = { n: rng.int(0, 127), id: rng.u32(), text: 'x'.repeat(rng.int(0, 256)), list: [rng.int(0, 127), null, true] };
      const started = performance.now();
      this.calls++;
      try {
        const answer = await firstValueFrom(client.send(FUZZ_PATTERNS.echo, payload));
        this.latencies.push(performance.now() - started);
        if (!isDeepStrictEqual(answer, payload)) this.fail(`wrong answer: sent ${JSON.stringify(payload)}, got ${JSON.stringify(answer)}`);
      } catch (err) {
        this.fail(`${(err as Error)?.name}: ${(err as Error)?.message ?? String(err)}`);
      }
      if (this.options.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
    }
  }

  private fail(what: string): void {
    this.failures++;
    if (this.failureSamples.length < 10) this.failureSamples.push(what);
  }
}
