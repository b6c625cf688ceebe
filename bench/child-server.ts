/**
 * Servers from the parent's side: each runs in its own process (so it gets its own event loop
 * and core) and reports its port over IPC once listening (servers/server-process.ts). Their
 * lifetime and teardown are the run's ChildProcesses'.
 */
import type { ChildProcess } from 'node:child_process';
import { awaitMessage, type ChildProcesses } from './child-processes.js';
import type { ProbeRequest, ServerMessage, ServerProbe } from './servers/server-process.js';

export interface ChildServer {
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  /** The server's heap, CPU time and counters now; `gc` forces full GCs first (needs `--expose-gc`). */
  probe(gc: boolean): Promise<ServerProbe>;
}

const START_TIMEOUT_MS = 20_000;
const PROBE_TIMEOUT_MS = 30_000;

export class ChildServers {
  private readonly servers = new Map<number, ChildProcess>();
  private nextProbeId = 1;

  constructor(private readonly processes: ChildProcesses) {}

  /**
   * Forks `script` (a compiled servers/*.js) and resolves once it reports its port. `execArgv`
   * adds Node flags for this child (e.g. `--expose-gc` to measure its heap).
   */
  async start(label: string, script: URL, args: readonly string[], execArgv: readonly string[] = []): Promise<ChildServer> {
    const child = this.processes.fork(`${label} server`, script, args, execArgv);
    try {
      const port = await awaitMessage(
        child,
        (msg: ServerMessage) => {
          if (msg.type === 'error') throw new Error(`${label} server failed to start:\n${msg.message}`);
          return msg.type === 'ready' ? msg.port : undefined;
        },
        START_TIMEOUT_MS,
        `${label} server's port`,
      );
      const pid = child.pid ?? -1;
      this.servers.set(pid, child);
      child.once('exit', () => this.servers.delete(pid));
      return { label, port, pid, probe: (gc) => this.probe(child, gc) };
    } catch (err) {
      void this.processes.stop(child);
      throw err;
    }
  }

  /** Stops one server now (SIGTERM, then SIGKILL after a grace period). */
  async stop(server: ChildServer): Promise<void> {
    const child = this.servers.get(server.pid);
    if (child) await this.processes.stop(child);
  }

  private probe(child: ChildProcess, gc: boolean): Promise<ServerProbe> {
    const id = this.nextProbeId++;
    const reply = awaitMessage(
      child,
      (msg: ServerMessage) => (msg.type === 'probe' && msg.id === id ? msg.probe : undefined),
      PROBE_TIMEOUT_MS,
      `an answer to probe ${id}`,
    );
    const request: ProbeRequest = { type: 'probe', id, gc };
    child.send(request);
    return reply;
  }
}
