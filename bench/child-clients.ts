/**
 * Each system's client in a process of its own (clients/client-process.ts), forked the first
 * time that system runs an echo cell and kept for the whole run, so its JIT stays warm across
 * rounds as the servers' does. Clients sharing one process measured each other: the last one ran
 * on a heap the others had grown, through a load loop they had made polymorphic. Lifetime and
 * teardown are the run's ChildProcesses'.
 */
import type { ChildProcess } from 'node:child_process';
import { awaitMessage, type ChildProcesses } from './child-processes.js';
import type { ClientMessage, RunCellRequest } from './clients/client-process.js';
import { failedEchoCell } from './echo-cell.js';
import type { EchoCellResult } from './report.js';
import type { SystemName, SystemSpec } from './systems.js';
import type { Codec, EchoWorkload } from './workloads.js';

export interface ChildEchoCellOptions {
  /** The server's start, shared with other cells; a failed start is this cell's error. */
  readonly server: Promise<{ port: number; pid: number }>;
  readonly codec: Codec;
  readonly warmupMs: number;
  readonly durationMs: number;
}

const CLIENT_SCRIPT = new URL('./clients/client-process.js', import.meta.url);
const START_TIMEOUT_MS = 20_000;
/**
 * On top of twice warm-up + measure (the load loop's own drain bound): connecting, the sanity
 * call and closing. Only a hung client gets near it.
 */
const CELL_SLACK_MS = 60_000;

export class ChildClients {
  private readonly clients = new Map<SystemName, { child: ChildProcess; ready: Promise<unknown> }>();
  private nextId = 1;

  constructor(private readonly processes: ChildProcesses) {}

  /** What echo-cell.ts's runEchoCell returns, measured in `system`'s client process. */
  async runEchoCell(workload: EchoWorkload, system: SystemSpec, opts: ChildEchoCellOptions): Promise<EchoCellResult> {
    let child: ChildProcess | undefined;
    try {
      // Only what the child needs: the pool's server objects also carry a probe function.
      const { port, pid } = await opts.server;
      child = await this.client(system.name);
      const id = this.nextId++;
      const result = awaitMessage(
        child,
        (msg: ClientMessage) => (msg.type === 'result' && msg.id === id ? msg.result : undefined),
        2 * (opts.warmupMs + opts.durationMs) + CELL_SLACK_MS,
        `the result of "${workload.id}"`,
      );
      const request: RunCellRequest = {
        type: 'run',
        id,
        workload: workload.id,
        system: system.name,
        server: { port, pid },
        codec: opts.codec,
        warmupMs: opts.warmupMs,
        durationMs: opts.durationMs,
      };
      child.send(request);
      return await result;
    } catch (err) {
      // A client that hung or died is replaced by a fresh one for the next cell.
      if (child) await this.discard(system.name, child);
      return failedEchoCell(workload, system, opts.codec, err);
    }
  }

  private async client(name: SystemName): Promise<ChildProcess> {
    let client = this.clients.get(name);
    if (!client) {
      // `--system` is for `ps` and pgrep only: the child is told the system with every cell.
      const child = this.processes.fork(`${name} client`, CLIENT_SCRIPT, ['--system', name]);
      const ready = awaitMessage(child, (msg: ClientMessage) => (msg.type === 'ready' ? true : undefined), START_TIMEOUT_MS, 'ready');
      client = { child, ready };
      this.clients.set(name, client);
      child.once('exit', () => this.forget(name, child));
      ready.catch(() => this.discard(name, child));
    }
    await client.ready;
    return client.child;
  }

  private async discard(name: SystemName, child: ChildProcess): Promise<void> {
    this.forget(name, child);
    await this.processes.stop(child);
  }

  private forget(name: SystemName, child: ChildProcess): void {
    if (this.clients.get(name)?.child === child) this.clients.delete(name);
  }
}
