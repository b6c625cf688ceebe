/**
 * The idle-connections row: many idle client connections to one server in its own process.
 * Measures what each connection costs the server while nothing but heartbeats flows: heap per
 * connection (heapUsed after forced GCs, minus the heap before any connection) and CPU
 * (process.cpuUsage over a window of several heartbeat intervals, as % of one core).
 *
 * - ms-rpc: this project's client connections with default heartbeat settings (idle: one ping
 *   per `idleHeartbeatInterval`);
 * - raw-net: plain sockets sending a 16-byte frame per (idle) heartbeat interval to the raw echo
 *   server: what any heartbeat costs a Node server (the floor);
 * - nest-tcp: Nest has no heartbeats: silent sockets, for the heap per connection.
 */
import type { ChildProcess } from 'node:child_process';
import { DEFAULT_CONNECTION_OPTIONS } from '../lib/connection/connection-options.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { awaitMessage, type ChildProcesses } from './child-processes.js';
import type { ChildServers } from './child-server.js';
import type { IdleClientMessage, IdleClientRequest, IdleClientStats } from './idle-clients-process.js';
import { errorMessage } from './load-loop.js';
import type { IdleCellResult, IdleMeasurement } from './report.js';
import type { SystemSpec } from './systems.js';
import type { IdleConnectionsWorkload } from './workloads.js';

/** Header-only frames (Ping, Pong): 16 bytes each. */
const CONTROL_FRAME_BYTES = 16;
const CONNECT_TIMEOUT_MS = 180_000;
const STATS_TIMEOUT_MS = 30_000;

const CLIENTS_SCRIPT = new URL('./idle-clients-process.js', import.meta.url);

/** How each system's idle clients behave (see the file comment). */
function clientArgs(system: SystemSpec, workload: IdleConnectionsWorkload): string[] {
  const hb = workload.heartbeat;
  switch (system.name) {
    case 'ms-rpc':
    case 'ms-rpc-call':
    case 'ms-rpc-bare':
    case 'ms-rpc-otel-noop':
    case 'ms-rpc-otel-sdk':
      return ['--mode', 'ms-rpc', ...(hb ? ['--interval', String(hb.intervalMs), '--heartbeat-timeout', String(hb.timeoutMs)] : [])];
    case 'raw-net':
    case 'raw-json':
      // The rate an idle ms-rpc connection pings at.
      return ['--mode', 'raw', '--interval', String(hb?.intervalMs ?? DEFAULT_CONNECTION_OPTIONS.idleHeartbeatInterval)];
    case 'nest-tcp':
      return ['--mode', 'raw', '--interval', '0'];
  }
}

function serverArgs(system: SystemSpec, workload: IdleConnectionsWorkload): string[] {
  const idle = workload.heartbeat?.serverIdleMs;
  return [...system.serverArgs('json'), ...(idle !== undefined && system.name === 'ms-rpc' ? ['--idle-timeout', String(idle)] : [])];
}

export async function runIdleCell(
  workload: IdleConnectionsWorkload,
  system: SystemSpec,
  children: ChildServers,
  processes: ChildProcesses,
): Promise<IdleCellResult> {
  const base = { workload: workload.id, kind: workload.kind, system: system.name, codec: system.wireFormat('json') };
  let clients: IdleClients | undefined;
  // A server of its own: the heap baseline must not carry what echo cells left behind.
  const server = await children
    .start(`${system.name} (idle)`, system.serverScript, serverArgs(system, workload), ['--expose-gc'])
    .catch((err: unknown) => err as Error);
  if (server instanceof Error) return { ...base, error: errorMessage(server) };
  try {
    const baseline = await server.probe(true);
    if (!baseline.gcForced) throw new Error('the server child could not force a GC (--expose-gc missing)');
    clients = await IdleClients.start(processes, server.port, workload.connections, clientArgs(system, workload));
    await sleep(workload.settleMs);

    const c0 = await clients.stats();
    const s0 = await server.probe(false);
    await sleep(workload.measureMs);
    const s1 = await server.probe(false);
    const c1 = await clients.stats();
    const loaded = await server.probe(true);

    const windowMs = s1.at - s0.at;
    const windowS = (c1.at - c0.at) / 1000;
    const n = workload.connections;
    const idle: IdleMeasurement = {
      connections: n,
      serverConnections: loaded.stats.connections ?? -1,
      readyAtEnd: c1.stats.ready,
      dropped: c1.stats.dropped,
      connectMs: Math.round(clients.connectMs),
      heartbeatIntervalMs: c1.stats.heartbeatIntervalMs,
      heartbeatTimeoutMs: c1.stats.heartbeatTimeoutMs,
      heapBaselineBytes: baseline.heapUsed,
      heapLoadedBytes: loaded.heapUsed,
      heapPerConnectionBytes: (loaded.heapUsed - baseline.heapUsed) / n,
      rssPerConnectionBytes: (loaded.rss - baseline.rss) / n,
      windowMs: Math.round(windowMs),
      cpuPercent: ((s1.cpuUs - s0.cpuUs) / 1000 / windowMs) * 100,
      pingsPerSec: (c1.stats.bytesWritten - c0.stats.bytesWritten) / CONTROL_FRAME_BYTES / windowS,
      pongsPerSec: (c1.stats.bytesRead - c0.stats.bytesRead) / CONTROL_FRAME_BYTES / windowS,
      windowUs: { from: s0.monotonicUs, to: s1.monotonicUs },
    };
    const problems = [
      idle.serverConnections !== n && `server holds ${idle.serverConnections} connections, expected ${n}`,
      idle.readyAtEnd !== n && `${n - idle.readyAtEnd} client connections not ready at the end`,
      idle.dropped > 0 && `${idle.dropped} connections dropped while idle (heartbeats failing?)`,
    ].filter(Boolean);
    return problems.length ? { ...base, idle, error: problems.join('; ') } : { ...base, idle };
  } catch (err) {
    return { ...base, error: errorMessage(err) };
  } finally {
    await clients?.close();
    await children.stop(server);
  }
}

/** The idle-clients child process, from the parent's side; its lifetime is the run's ChildProcesses'. */
class IdleClients {
  private nextId = 1;

  private constructor(
    private readonly child: ChildProcess,
    readonly connectMs: number,
  ) {}

  static async start(processes: ChildProcesses, port: number, connections: number, args: readonly string[]): Promise<IdleClients> {
    const argv = ['--port', String(port), '--connections', String(connections), ...args];
    const child = processes.fork('idle clients', CLIENTS_SCRIPT, argv);
    try {
      const connectMs = await awaitMessage(
        child,
        (msg: IdleClientMessage) => {
          if (msg.type === 'error') throw new Error(`idle clients failed:\n${msg.message}`);
          return msg.type === 'ready' ? msg.connectMs : undefined;
        },
        CONNECT_TIMEOUT_MS,
        `${connections} idle connections ready`,
      );
      return new IdleClients(child, connectMs);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  async stats(): Promise<{ stats: IdleClientStats; at: number }> {
    const id = this.nextId++;
    const reply = awaitMessage(
      this.child,
      (msg: IdleClientMessage) => (msg.type === 'stats' && msg.id === id ? msg.stats : undefined),
      STATS_TIMEOUT_MS,
      `an answer to stats request ${id}`,
    );
    const request: IdleClientRequest = { type: 'stats', id };
    this.child.send(request);
    return { stats: await reply, at: performance.now() };
  }

  /** Disconnecting makes the child close its connections and exit; SIGKILL if it hangs. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}
