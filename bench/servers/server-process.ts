/**
 * Child side of a bench server (see ../child-server.ts): start it, report its port over IPC,
 * answer probes, and exit with the parent (../child-lifetime.ts).
 */
import { exitWithParent } from '../child-lifetime.js';
import type { Codec } from '../workloads.js';

export type ServerMessage =
  | { type: 'ready'; port: number }
  | { type: 'error'; message: string }
  | { type: 'probe'; id: number; probe: ServerProbe };

/** Requests the parent may send a running server (answered with a `probe` message, same `id`). */
export type ProbeRequest = { type: 'probe'; id: number; gc: boolean };

/** A server's own view of itself, for the idle-connections row. */
export interface ServerProbe {
  /** `process.memoryUsage().heapUsed` (after forced GCs when asked and `--expose-gc` is on). */
  readonly heapUsed: number;
  readonly rss: number;
  /** Whether the GCs really ran (the child needs `--expose-gc`). */
  readonly gcForced: boolean;
  /** `process.cpuUsage()` user + system, microseconds. */
  readonly cpuUs: number;
  /** `performance.now()` in the child, ms, for the wall time between two probes. */
  readonly at: number;
  /** Monotonic clock in µs (the clock of `--cpu-prof` timestamps, system-wide). */
  readonly monotonicUs: number;
  /** Server-specific counters, e.g. open connections. */
  readonly stats: Record<string, number>;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
  /** Counters the server knows about itself (e.g. `connections`). */
  stats?(): Record<string, number>;
}

/** A numeric `--flag value` server argument, if given. */
export function numberFromArgv(flag: string, argv: readonly string[] = process.argv.slice(2)): number | undefined {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const value = Number(argv[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`${flag} needs a number, got "${argv[i + 1]}"`);
  return value;
}

/** `fork(script, ['--codec', codec])`. */
export function codecFromArgv(argv: readonly string[] = process.argv.slice(2)): Codec {
  const i = argv.indexOf('--codec');
  const value = i >= 0 ? argv[i + 1] : 'json';
  if (value !== 'json' && value !== 'msgpack') throw new Error(`unknown codec "${value}"`);
  return value;
}

export function runServerProcess(start: () => Promise<RunningServer>): void {
  let server: RunningServer | null = null;
  let started: Promise<RunningServer> | undefined;
  // Waits for a start still under way, so a server told to exit while starting is closed too.
  const exit = exitWithParent('a bench server', async () => (await started)?.close());

  process.on('message', (msg: ProbeRequest) => {
    if (msg?.type !== 'probe') return;
    const reply: ServerMessage = { type: 'probe', id: msg.id, probe: probe(server, msg.gc) };
    process.send?.(reply);
  });

  started = start();
  started.then(
    (s) => {
      server = s;
      const msg: ServerMessage = { type: 'ready', port: s.port };
      process.send?.(msg);
    },
    (err: unknown) => {
      const msg: ServerMessage = { type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) };
      process.send?.(msg, () => exit(1));
    },
  );
}

/** Forced full GCs until the heap stops shrinking, so what remains is what is really held. */
function probe(server: RunningServer | null, gc: boolean): ServerProbe {
  const forceGc = (globalThis as { gc?: () => void }).gc;
  const gcForced = gc && typeof forceGc === 'function';
  if (gcForced) {
    let previous = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 10; i++) {
      forceGc();
      const used = process.memoryUsage().heapUsed;
      if (used >= previous - 1024) break;
      previous = used;
    }
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    gcForced,
    cpuUs: cpu.user + cpu.system,
    at: performance.now(),
    monotonicUs: Number(process.hrtime.bigint() / 1000n),
    stats: server?.stats?.() ?? {},
  };
}
