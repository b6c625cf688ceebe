/**
 * Child-side half of the fork protocol (see ../child-server.ts): start a server, report its
 * port over IPC, and exit when told to or when the parent goes away, so no server outlives a run.
 */
import type { Codec } from '../workloads.js';

export type ServerMessage = { type: 'ready'; port: number } | { type: 'error'; message: string };

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

/** `fork(script, ['--codec', codec])`: the only server argument so far. */
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
