import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childReady } from './child-ready.js';

/**
 * A provider in a child process (test/support/child-provider-main.mjs, raw wire frames, plain
 * node), so a test can freeze it (SIGSTOP), kill it (SIGKILL) and start it again on the same port.
 * `stop()` always leaves no process behind: it SIGCONTs a frozen child before killing it.
 */
export interface ChildProvider {
  readonly port: number;
  readonly pid: number;
  /** Freezes the process: the kernel still accepts connections, nothing is read or answered. */
  pause(): void;
  resume(): void;
  /** SIGKILL and wait for the exit: the kernel closes every socket of the child at once. */
  kill(): Promise<void>;
  /** Same as kill(); safe to call twice and after kill(). */
  stop(): Promise<void>;
}

const MAIN = fileURLToPath(new URL('./child-provider-main.mjs', import.meta.url));
const START_TIMEOUT_MS = 10_000;

export function startChildProvider(options: { port?: number; idleTimeoutMs?: number } = {}): Promise<ChildProvider> {
  // The child is plain node: drop jest's --experimental-vm-modules so it starts quietly.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = fork(MAIN, [String(options.port ?? 0), String(options.idleTimeoutMs ?? 0)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
    env,
  });
  return childReady(child, 'child provider', START_TIMEOUT_MS).then((port) => handle(child, port));
}

function handle(child: ChildProcess, port: number): ChildProvider {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = async () => {
    if (alive()) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await exited;
  };
  return {
    port,
    pid: child.pid!,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    kill,
    stop: kill,
  };
}
