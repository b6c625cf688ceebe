/**
 * Parent side of the fuzz server (scripts/fuzz-server-main.ts): forks it, asks it for its
 * counters over IPC, and always leaves no process behind. The child's stderr is kept (its last
 * lines), so a crash is reported with its stack rather than as a bare exit code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { childEntry } from '../test/support/ts-child-entry.js';

export interface FuzzServerStats {
  rss: number;
  /** Highest RSS sampled (every 20 ms) since start or since the last `resetPeak`. */
  peakRss: number;
  heapUsed: number;
  /** Open client connections (MsRpcServer.connectionCount). */
  connections: number;
  inFlightRequests: number;
  refusedConnections: number;
  eventsHandled: number;
  logByLevel: Record<string, number>;
  /** Warning and error lines per remote `ip:port`. */
  logByAddress: Record<string, number>;
  /** Typed error names named by warning and debug lines. */
  errorNames: Record<string, number>;
  /** Warning and error lines not tied to a connection (first 20). */
  unattributed: string[];
  /** First warning and error lines. */
  samples: string[];
}

export interface FuzzServer {
  readonly port: number;
  readonly pid: number;
  /** Set once the process exited (by itself: a crash, unless stop() was called). */
  readonly exit: { code: number | null; signal: string | null } | undefined;
  stats(resetPeak?: boolean): Promise<FuzzServerStats>;
  /** Last lines the child wrote to stderr. */
  stderrTail(): string;
  /** Graceful stop, SIGKILL after a grace period; safe to call twice. */
  stop(): Promise<void>;
}

type ChildMessage = { type: 'ready'; port: number } | { type: 'stats'; stats: FuzzServerStats } | { type: 'error'; message: string };

const START_TIMEOUT_MS = 30_000;
const STATS_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const STDERR_KEEP = 16 * 1024;

export async function startFuzzServer(options: Record<string, unknown>): Promise<FuzzServer> {
  const { script, execArgv: entryArgs } = childEntry(import.meta.url, './fuzz-server-main');
  // `node --cpu-prof --cpu-prof-dir=DIR dist/scripts/fuzz.js` profiles the server too.
  const execArgv = [...entryArgs, ...process.execArgv.filter((a) => /^--(cpu-prof|heap-prof)/.test(a))];
  const env = { ...process.env };
  // Jest's --experimental-vm-modules is for jest's loader, not for a plain node child.
  delete env.NODE_OPTIONS;
  const child = fork(script, ['--options', JSON.stringify(options)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv,
    env,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
  });
  let exit: FuzzServer['exit'];
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  child.on('error', () => undefined);

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`fuzz server did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.kill('SIGKILL');
      reject(err);
    };
    const onMessage = (msg: ChildMessage) => {
      if (msg.type === 'ready') {
        settled = true;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(msg.port);
      } else if (msg.type === 'error') {
        fail(new Error(`fuzz server failed to start: ${msg.message}`));
      }
    };
    child.on('message', onMessage);
    void exited.then(() => fail(new Error(`fuzz server exited during start (${exit?.code ?? exit?.signal})\n${stderr}`)));
  });

  let stopping: Promise<void> | undefined;
  return {
    port,
    pid: child.pid ?? -1,
    get exit() {
      return exit;
    },
    stats: (resetPeak = false) => requestStats(child, exited, resetPeak),
    stderrTail: () => stderr,
    stop: () => (stopping ??= stopChild(child, exited, () => exit !== undefined)),
  };
}

function requestStats(child: ChildProcess, exited: Promise<void>, resetPeak: boolean): Promise<FuzzServerStats> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`fuzz server did not answer a stats request within ${STATS_TIMEOUT_MS} ms`)), STATS_TIMEOUT_MS);
    let settled = false;
    const done = (err: Error | undefined, stats?: FuzzServerStats) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage);
      if (err) reject(err);
      else resolve(stats!);
    };
    const onMessage = (msg: ChildMessage) => {
      if (msg.type === 'stats') done(undefined, msg.stats);
    };
    child.on('message', onMessage);
    void exited.then(() => done(new Error('fuzz server exited')));
    if (!child.connected) return done(new Error('fuzz server is gone'));
    child.send({ type: 'stats', resetPeak });
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  if (child.connected) child.send({ type: 'stop' });
  else child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}
