/**
 * Parent side of every bench child (servers, each system's client, the idle clients): one set of
 * forked processes per run, so one teardown kills them all at the end, on error, and on
 * SIGINT/SIGTERM. The children also exit on their own when the IPC channel drops
 * (child-lifetime.ts), so none outlives a parent killed with SIGKILL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Profiling flags pass through, so `node --cpu-prof --cpu-prof-dir=DIR dist/bench/run.js`
 * profiles every child too (use the `--flag=value` form); nothing else does, so children run
 * with defaults.
 */
const INHERITED_EXEC_ARGS = /^--(cpu-prof|heap-prof)/;
const STOP_GRACE_MS = 3_000;

export class ChildProcesses {
  private readonly children = new Set<ChildProcess>();
  private stopping = false;

  /** True once teardown began (e.g. on SIGINT): cells failing from then on are not results. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /**
   * Forks a compiled bench script and tracks it until it exits. The pid is printed because with
   * `--cpu-prof` each child writes its own profile, named by pid. `execArgv` adds Node flags for
   * this child (e.g. `--expose-gc`).
   */
  fork(label: string, script: URL, args: readonly string[], execArgv: readonly string[] = []): ChildProcess {
    const child = fork(fileURLToPath(script), [...args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv.filter((a) => INHERITED_EXEC_ARGS.test(a)), ...execArgv],
    });
    this.children.add(child);
    console.log(`[bench] ${label} pid ${child.pid}`);
    child.once('exit', (code, signal) => {
      this.children.delete(child);
      if (!this.stopping && code !== 0) {
        console.error(`[bench] ${label} (pid ${child.pid}) exited: code ${code}, signal ${signal}`);
      }
    });
    return child;
  }

  /** SIGTERM, then SIGKILL if it is still alive after a grace period. */
  stop(child: ChildProcess): Promise<void> {
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

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.children].map((child) => this.stop(child)));
  }

  /** Last resort from a synchronous 'exit' handler. */
  killAllNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
  }

  /** Makes Ctrl-C, SIGTERM and crashes tear the children down before the process goes. */
  installTeardown(): void {
    process.once('exit', () => this.killAllNow());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        console.error(`\n[bench] ${signal}: stopping child processes`);
        void this.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      });
    }
  }
}

/**
 * The first message from `child` that `pick` maps to a value (`pick` throws to fail). Rejects if
 * the child exits or fails first, or after `timeoutMs`: a hung child must not hang the run.
 */
export function awaitMessage<M, T>(
  child: ChildProcess,
  pick: (msg: M) => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (err: Error | undefined, value?: T): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err) reject(err);
      else resolve(value as T);
    };
    const onMessage = (msg: M): void => {
      let value: T | undefined;
      try {
        value = pick(msg);
      } catch (err) {
        return done(err instanceof Error ? err : new Error(String(err)));
      }
      if (value !== undefined) done(undefined, value);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`pid ${child.pid} exited (code ${code}, signal ${signal}) while waiting for ${what}`));
    const onError = (err: Error): void => done(err);
    const timer = setTimeout(() => done(new Error(`pid ${child.pid}: no ${what} within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
