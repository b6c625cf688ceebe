/**
 * Parent-side half of the fork protocol: each server runs in its own process (so it gets its own
 * event loop and core), reports its port over IPC, and is always killed at the end, on error, or
 * on SIGINT/SIGTERM. Children also exit on their own when the IPC channel drops (server-process.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProbeRequest, ServerMessage, ServerProbe } from './servers/server-process.js';

export interface ChildServer {
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  /** The server's heap, CPU time and counters now; `gc` forces full GCs first (needs `--expose-gc`). */
  probe(gc: boolean): Promise<ServerProbe>;
}

const START_TIMEOUT_MS = 20_000;

/**
 * Profiling flags pass through, so `node --cpu-prof --cpu-prof-dir=DIR dist/bench/run.js` profiles
 * the servers too (use the `--flag=value` form); nothing else does, so servers run with defaults.
 */
const INHERITED_EXEC_ARGS = /^--(cpu-prof|heap-prof)/;
const STOP_GRACE_MS = 3_000;
const PROBE_TIMEOUT_MS = 30_000;

export class ChildServers {
  private readonly children = new Set<ChildProcess>();
  private stopping = false;

  /** True once teardown began (e.g. on SIGINT): cells failing from then on are not results. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /**
   * Forks `script` (a compiled servers/*.js) and resolves once it reports its port. `execArgv`
   * adds Node flags for this child (e.g. `--expose-gc` to measure its heap).
   */
  start(label: string, script: URL, args: readonly string[], execArgv: readonly string[] = []): Promise<ChildServer> {
    const child = fork(fileURLToPath(script), [...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv.filter((a) => INHERITED_EXEC_ARGS.test(a)), ...execArgv],
    });
    this.children.add(child);
    child.once('exit', (code, signal) => {
      this.children.delete(child);
      if (!this.stopping && code !== 0) {
        console.error(`[bench] ${label} server (pid ${child.pid}) exited: code ${code}, signal ${signal}`);
      }
    });

    return new Promise<ChildServer>((resolve, reject) => {
      const fail = (err: Error): void => {
        cleanup();
        void this.kill(child);
        reject(err);
      };
      const onMessage = (msg: ServerMessage): void => {
        if (msg.type === 'ready') {
          cleanup();
          resolve({ label, port: msg.port, pid: child.pid ?? -1, probe: (gc) => this.probe(child, gc) });
        } else if (msg.type === 'error') {
          fail(new Error(`${label} server failed to start:\n${msg.message}`));
        }
      };
      const onExit = (code: number | null, signal: string | null): void =>
        fail(new Error(`${label} server exited before reporting a port (code ${code}, signal ${signal})`));
      const onError = (err: Error): void => fail(err);
      const timer = setTimeout(
        () => fail(new Error(`${label} server did not report a port within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }

  /** SIGTERM every child, SIGKILL whatever is still alive after a grace period. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.children].map((child) => this.kill(child)));
  }

  /** Stops one server now (SIGTERM, then SIGKILL after a grace period). */
  async stop(server: ChildServer): Promise<void> {
    const child = [...this.children].find((c) => c.pid === server.pid);
    if (child) await this.kill(child);
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
  }

  /** Makes Ctrl-C, SIGTERM and crashes tear the servers down before the process goes. */
  installTeardown(): void {
    process.once('exit', () => this.killAllNow());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        console.error(`\n[bench] ${signal}: stopping servers`);
        void this.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      });
    }
  }

  private nextProbeId = 1;

  private probe(child: ChildProcess, gc: boolean): Promise<ServerProbe> {
    const id = this.nextProbeId++;
    return new Promise<ServerProbe>((resolve, reject) => {
      const done = (err?: Error, probe?: ServerProbe): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(probe!);
      };
      const onMessage = (msg: ServerMessage): void => {
        if (msg.type === 'probe' && msg.id === id) done(undefined, msg.probe);
      };
      const onExit = (): void => done(new Error(`server (pid ${child.pid}) exited during a probe`));
      const timer = setTimeout(() => done(new Error(`server (pid ${child.pid}) did not answer a probe`)), PROBE_TIMEOUT_MS);
      child.on('message', onMessage);
      child.once('exit', onExit);
      const request: ProbeRequest = { type: 'probe', id, gc };
      child.send(request);
    });
  }

  private kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
