/**
 * Child process of the idle-connections row: opens `--connections` client connections, keeps
 * them idle, and reports what went over the wire. A separate process: the server's heap and CPU
 * must not include the clients, and each process has its own fd limit.
 *
 * - `--mode ms-rpc`: this project's own `Connection`s, so heartbeats are the real ones, with the
 *   default settings.
 * - `--mode raw --interval <ms>`: plain sockets that each send one 16-byte raw-net frame per
 *   interval (timers spread evenly), which the raw-net server echoes: the floor any heartbeat
 *   costs a Node server. `--interval 0` sends nothing (for servers without heartbeats).
 *
 * IPC: sends `{type:'ready', ...}` once every connection said Hello (or `{type:'error'}`),
 * answers `{type:'stats', id}` with an IdleClientStats, and exits when the parent goes away.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import type { MsRpcLogger } from '../lib/common/logger.js';
import { Connection } from '../lib/connection/connection.js';
import { defaultSocketFactory } from '../lib/connection/connect-attempt.js';
import { resolveConnectionOptions } from '../lib/connection/connection-options.js';
import { MessageCodec } from '../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../lib/protocol/protocol-options.js';
import { exitWithParent } from './child-lifetime.js';
import { encodeFrames } from './raw-frames.js';

export interface IdleClientStats {
  /** Connections in state 'ready' now. */
  readonly ready: number;
  /** Times a ready connection left 'ready' (the server closed it, a heartbeat timed out...). */
  readonly dropped: number;
  /** Bytes received / sent over all sockets since they opened. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** The heartbeat settings the connections run with (after the server's Hello). */
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
}

export type IdleClientMessage =
  | { type: 'ready'; connected: number; connectMs: number }
  | { type: 'error'; message: string }
  | { type: 'stats'; id: number; stats: IdleClientStats };

export type IdleClientRequest = { type: 'stats'; id: number };

const quiet: MsRpcLogger = {
  log: () => undefined,
  debug: () => undefined,
  warn: () => undefined,
  error: (m) => console.error(`[idle-clients] ${m}`),
};

/** What both modes provide to the IPC side. */
interface IdleFleet {
  readonly sockets: readonly Socket[];
  ready(): number;
  dropped(): number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  close(): void;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      connections: { type: 'string' },
      concurrency: { type: 'string', default: '200' },
      mode: { type: 'string', default: 'ms-rpc' },
      interval: { type: 'string', default: '0' },
      'heartbeat-timeout': { type: 'string' },
    },
  });
  const port = Number(values.port);
  const count = Number(values.connections);
  const concurrency = Number(values.concurrency);
  const started = performance.now();
  const fleet =
    values.mode === 'raw'
      ? await rawFleet(port, count, concurrency, Number(values.interval))
      : await msRpcFleet(port, count, concurrency, values['heartbeat-timeout'] ? { heartbeatInterval: Number(values.interval), idleHeartbeatInterval: 0, heartbeatTimeout: Number(values['heartbeat-timeout']) } : {});
  const connectMs = performance.now() - started;
  running = fleet;

  process.on('message', (msg: IdleClientRequest) => {
    if (msg?.type !== 'stats') return;
    let bytesRead = 0;
    let bytesWritten = 0;
    for (const s of fleet.sockets) {
      bytesRead += s.bytesRead;
      bytesWritten += s.bytesWritten;
    }
    const stats: IdleClientStats = {
      ready: fleet.ready(),
      dropped: fleet.dropped(),
      bytesRead,
      bytesWritten,
      heartbeatIntervalMs: fleet.heartbeatIntervalMs,
      heartbeatTimeoutMs: fleet.heartbeatTimeoutMs,
    };
    const reply: IdleClientMessage = { type: 'stats', id: msg.id, stats };
    process.send?.(reply);
  });
  const ready: IdleClientMessage = { type: 'ready', connected: count, connectMs };
  process.send?.(ready);
}

/** Runs `open(i)` for i in [0, count) with at most `concurrency` at once. */
async function openAll(count: number, concurrency: number, open: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await open(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function msRpcFleet(
  port: number,
  count: number,
  concurrency: number,
  heartbeat: { heartbeatInterval?: number; idleHeartbeatInterval?: number; heartbeatTimeout?: number },
): Promise<IdleFleet> {  // Default liveness settings (what an application gets without configuring anything) unless
  // the row says otherwise.
  const options = resolveConnectionOptions(heartbeat);
  const codec = new MessageCodec(resolveProtocolOptions());
  const sockets: Socket[] = [];
  const connections: Connection[] = [];
  let dropped = 0;
  const listener = {
    onStateChange: (_c: Connection, from: string) => {
      if (from === 'ready') dropped++;
    },
  };
  const factory = (host: string, p: number): Socket => {
    const socket = defaultSocketFactory(host, p);
    sockets.push(socket);
    return socket;
  };
  for (let i = 0; i < count; i++) {
    connections.push(new Connection('127.0.0.1', port, options, codec, listener, quiet, undefined, factory));
  }

  await openAll(count, concurrency, (i) => connections[i].connect());
  return {
    sockets,
    ready: () => connections.filter((c) => c.state === 'ready').length,
    dropped: () => dropped,
    // What these idle connections ping at.
    heartbeatIntervalMs: options.idleHeartbeatInterval || options.heartbeatInterval,
    heartbeatTimeoutMs: options.heartbeatTimeout,
    close: () => {
      for (const c of connections) c.close('bench done');
    },
  };
}

async function rawFleet(port: number, count: number, concurrency: number, intervalMs: number): Promise<IdleFleet> {
  const sockets: Socket[] = [];
  let open = 0;
  let dropped = 0;
  let closing = false;
  await openAll(count, concurrency, () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      socket.once('connect', () => {
        open++;
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve();
      });
      socket.once('error', reject);
      socket.on('data', () => undefined);
      socket.on('close', () => {
        open--;
        if (!closing) dropped++;
      });
      sockets.push(socket);
    }),
  );
  const timers: NodeJS.Timeout[] = [];
  if (intervalMs > 0) {
    // One raw-net frame of 16 bytes, the size of an ms-rpc Ping.
    const ping = encodeFrames([{ id: 1, payload: 'heartbt!' }]);
    sockets.forEach((socket, i) => {
      timers.push(
        setTimeout(() => timers.push(setInterval(() => socket.write(ping), intervalMs)), (i * intervalMs) / count),
      );
    });
  }
  return {
    sockets,
    ready: () => open,
    dropped: () => dropped,
    heartbeatIntervalMs: intervalMs,
    heartbeatTimeoutMs: 0,
    close: () => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
    },
  };
}

// Installed before connecting, so a parent that goes away while 10k connections open is seen too.
let running: IdleFleet | undefined;
exitWithParent('idle-clients-process', () => running?.close());
main().catch((err: unknown) => {
  const msg: IdleClientMessage = { type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  process.send?.(msg, () => process.exit(1));
});
