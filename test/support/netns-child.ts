import { spawn, type ChildProcess } from 'node:child_process';
import { childEntry } from './ts-child-entry.js';
import { childReady } from './child-ready.js';
import type { NetnsLab } from './netns-lab.js';

/**
 * A partition provider (netns-provider.ts: Nest + MsRpcServer) in a child process inside the
 * lab's namespace, listening on the namespace's address. Only the root namespace reaches it,
 * through the lab's veth pair.
 */
export interface NetnsProvider {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly pid: number;
  /** SIGKILL and wait for the exit. Idempotent. */
  stop(): Promise<void>;
}

// Runs the TypeScript sources as they are (swc hooks, as jest compiles): no `npm run build` first.
const ENTRY = childEntry(import.meta.url, './netns-provider-main');
/** Transpiling Nest and the library on a loaded 2-core box takes a few seconds. */
const START_TIMEOUT_MS = 20_000;

export function startNetnsProvider(lab: NetnsLab, name: string): Promise<NetnsProvider> {
  // The child is plain node: jest's --experimental-vm-modules would only make it noisy.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // `ip netns exec` execs the command in place, so the child's pid is node's and it inherits the
  // IPC channel's descriptor.
  const argv = ['netns', 'exec', lab.ns, process.execPath, ...ENTRY.execArgv, ENTRY.script, name, lab.nsIp];
  const child = spawn('ip', argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  return childReady(child, 'namespaced provider', START_TIMEOUT_MS).then((port) => handle(child, name, lab.nsIp, port));
}

function handle(child: ChildProcess, name: string, host: string, port: number): NetnsProvider {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    name,
    host,
    port,
    address: `${host}:${port}`,
    pid: child.pid!,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      })()),
  };
}
