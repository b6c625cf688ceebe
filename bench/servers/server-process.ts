/**
 * Child-side half of the fork protocol (see ../child-server.ts): start a server, report its
 * port over IPC, and exit when told to or when the parent goes away, so no server outlives a run.
 */
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

const CLOSE_GRACE_MS = 2000;

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
  if (!process.send) {
    console.error('bench servers are started by bench/run.ts via child_process.fork');
    process.exit(2);
  }
  let server: RunningServer | null = null;
  let exiting = false;

  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    // A hung close must not keep the process alive.
    setTimeout(() => process.exit(code), CLOSE_GRACE_MS).unref();
    Promise.resolve(server?.close())
      .catch(() => undefined)
      .finally(() => process.exit(code));
  };

  // The IPC channel closes when the parent exits for any reason, including SIGKILL.
  process.on('disconnect', () => exit(0));
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));

  process.on('message', (msg: ProbeRequest) => {
    if (msg?.type !== 'probe') return;
    const reply: ServerMessage = { type: 'probe', id: msg.id, probe: probe(server, msg.gc) };
    process.send?.(reply);
  });

  start().then(
    (s) => {
      server = s;
      if (exiting) return exit(0);
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
