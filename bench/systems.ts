/**
 * The systems compared side by side, in the order they run within each cell.
 * Clients are imported lazily so `--only nest-tcp,raw-net` never loads lib/.
 */
import type { EchoClient } from './clients/echo-client.js';
import type { Codec } from './workloads.js';

export type SystemName =
  | 'ms-rpc'
  | 'ms-rpc-call'
  | 'ms-rpc-bare'
  | 'ms-rpc-otel-noop'
  | 'ms-rpc-otel-sdk'
  | 'nest-tcp'
  | 'raw-json'
  | 'raw-net';

export interface SystemSpec {
  readonly name: SystemName;
  /** Compiled server entry, relative to this file. */
  readonly serverScript: URL;
  /** Arguments that change the server; servers are started once per distinct argument list. */
  serverArgs(codec: Codec): string[];
  /** What the codec column says for this system. */
  wireFormat(codec: Codec): string;
  createClient(port: number, codec: Codec): Promise<EchoClient>;
  /** The only echo workloads (by id) this system runs; all of them when absent. */
  readonly workloads?: readonly string[];
}

export const SYSTEMS: readonly SystemSpec[] = [
  {
    name: 'ms-rpc',
    serverScript: new URL('./servers/ms-rpc-server.js', import.meta.url),
    serverArgs: (codec) => ['--codec', codec],
    wireFormat: (codec) => codec,
    createClient: async (port, codec) => (await import('./clients/ms-rpc-client.js')).createMsRpcClient(port, codec),
  },
  {
    // The same server; the client uses the Promise fast path `client.call()` instead of send().
    name: 'ms-rpc-call',
    serverScript: new URL('./servers/ms-rpc-server.js', import.meta.url),
    serverArgs: (codec) => ['--codec', codec],
    wireFormat: (codec) => codec,
    createClient: async (port, codec) => (await import('./clients/ms-rpc-client.js')).createMsRpcClient(port, codec, 'call'),
  },
  {
    // Context, not a target: the transport without Nest's handler pipeline on the server (a plain
    // function handler) and without rxjs on the client (`client.call()`); see ms-rpc-bare-server.ts.
    name: 'ms-rpc-bare',
    serverScript: new URL('./servers/ms-rpc-bare-server.js', import.meta.url),
    serverArgs: (codec) => ['--codec', codec],
    wireFormat: (codec) => codec,
    createClient: async (port, codec) => (await import('./clients/ms-rpc-client.js')).createMsRpcClient(port, codec, 'call'),
  },
  {
    // Context: ms-rpc with tracing on, `@opentelemetry/api` installed and no SDK registered (the
    // no-op API): the cost for applications that have the API and do not trace (target: <= 5 %).
    name: 'ms-rpc-otel-noop',
    serverScript: new URL('./servers/ms-rpc-server.js', import.meta.url),
    serverArgs: (codec) => ['--codec', codec, '--tracing', 'noop'],
    wireFormat: (codec) => codec,
    createClient: async (port, codec) => (await import('./clients/ms-rpc-client.js')).createMsRpcClient(port, codec, 'send', 'noop'),
    workloads: ['echo 64B x128'],
  },
  {
    // Context: ms-rpc traced by an SDK registered in both processes (a span per call on each side,
    // exported to memory): what tracing every call costs.
    name: 'ms-rpc-otel-sdk',
    serverScript: new URL('./servers/ms-rpc-server.js', import.meta.url),
    serverArgs: (codec) => ['--codec', codec, '--tracing', 'sdk'],
    wireFormat: (codec) => codec,
    createClient: async (port, codec) => (await import('./clients/ms-rpc-client.js')).createMsRpcClient(port, codec, 'send', 'sdk'),
    workloads: ['echo 64B x128'],
  },
  {
    name: 'nest-tcp',
    serverScript: new URL('./servers/nest-tcp-server.js', import.meta.url),
    serverArgs: () => [],
    wireFormat: () => 'json',
    createClient: async (port) => (await import('./clients/nest-tcp-client.js')).createNestTcpClient(port),
  },
  {
    // The baseline of the echo targets: the least a transport for JS objects can do (raw-net's
    // framing, JSON both ways; see clients/raw-json-client.ts).
    name: 'raw-json',
    serverScript: new URL('./servers/raw-json-server.js', import.meta.url),
    serverArgs: () => [],
    wireFormat: () => 'json',
    createClient: async (port) => (await import('./clients/raw-json-client.js')).createRawJsonClient(port),
  },
  {
    // Context, not a target: bytes echoed with no serialization, the socket limit.
    name: 'raw-net',
    serverScript: new URL('./servers/raw-net-server.js', import.meta.url),
    serverArgs: () => [],
    wireFormat: () => 'raw',
    createClient: async (port) => (await import('./clients/raw-net-client.js')).createRawNetClient(port),
  },
];

export const SYSTEM_NAMES: readonly SystemName[] = SYSTEMS.map((s) => s.name);

export function isSystemName(value: string): value is SystemName {
  return (SYSTEM_NAMES as readonly string[]).includes(value);
}
