import {
  checkBoolean,
  checkInteger,
  checkNumber,
  checkOptionsObject,
  checkRegistry,
  checkString,
  definedOptions,
} from '../common/option-checks.js';
import { DEFAULT_CONNECTION_OPTIONS } from '../connection/connection-options.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { PROTOCOL_OPTION_KEYS, ProtocolOptions, resolveProtocolOptions } from '../protocol/protocol-options.js';
import type { Registry } from '../registry/registry.js';
import { DEFAULT_REGISTRY_TIMEOUT } from '../registry/registry-timeout.js';
import { MAX_TIMER_DELAY_MS } from '../liveness/timer-delay.js';
import {
  DEFAULT_SERVER_SECURITY_OPTIONS,
  resolveServerSecurityOptions,
  SERVER_SECURITY_OPTION_KEYS,
  ServerSecurityOptions,
} from '../security/security-options.js';

/**
 * Options of {@link MsRpcServer}. Protocol fields (codec, limits) are documented in
 * ProtocolOptions, TLS and token authentication (`tls`, `auth`, `handshakeTimeout`) in ServerSecurityOptions.
 */
export interface MsRpcServerOptions extends ProtocolOptions, ServerSecurityOptions {
  /**
   * Interface to listen on. Use '0.0.0.0' / '::' to accept remote consumers.
   * @default '127.0.0.1'
   */
  host: string;
  /**
   * Port to listen on; 0 picks a free port, readable from `server.port` once listening.
   * @default 0
   */
  port: number;
  /**
   * Close a connection whose reader has been idle (no request, no ping) for this long, in ms.
   * Announced to clients in the Hello frame so they ping often enough: a client whose
   * `heartbeatInterval` or `idleHeartbeatInterval` exceeds half of it pings every third of it
   * instead. The default leaves idle clients (a ping every 20 s) three pings per window, as
   * Dubbo (60 s / 180 s) and Jupiter (30 s / 60 s) do, and cuts a silent client after a minute.
   * Must exceed `clientHeartbeatInterval`. 0 disables.
   * @default 60000
   */
  idleTimeout: number;
  /**
   * A frame whose first byte has arrived must be complete within this many ms, or the connection
   * is closed with a FrameTimeoutError. The idle timeout restarts on every byte, so without this a
   * peer dribbling a frame one byte at a time (slowloris) would hold its connection and buffer
   * forever. Checked as bytes arrive (no timer per frame); a peer that stops sending altogether is
   * cut by `idleTimeout`. The default leaves a frame of the default 8 MiB `maxFrameSize` about
   * 280 KB/s, and is three client heartbeat timeouts: a client whose frame takes that long has long
   * been declared dead by its own heartbeat timeout anyway. 0 disables.
   * @default 30000
   */
  frameTimeout: number;
  /**
   * The shortest heartbeat interval (ms) this server's clients are expected to use (their active
   * `heartbeatInterval`; clients adapt both intervals to a third of `idleTimeout` when it is
   * shorter than twice theirs). `idleTimeout` must exceed it: a server that asks for pings faster
   * than that is a misconfiguration. Lower it only with clients configured to ping that often,
   * e.g. for fast idle detection in tests.
   * @default 3000 (the client's default heartbeatInterval)
   */
  clientHeartbeatInterval: number;
  /**
   * On close(), how long in-flight requests may still finish before sockets are destroyed (ms).
   * @default 10000
   */
  shutdownTimeout: number;
  /**
   * Unsent bytes one connection may queue (answers its client has not read yet). An answer that
   * would take the queue over it fails its call alone with a BackpressureError (code
   * 'ERR_BACKPRESSURE'; a frame larger than the limit still goes when nothing else is queued):
   * the connection and its other calls go on. The connection is cut only when its client stopped
   * reading altogether: see `writeStallTimeout`.
   * @default 67108864 (64 MiB)
   */
  maxWriteBuffer: number;
  /**
   * Unsent bytes one response stream may queue. A stream whose handler produces faster than its
   * caller reads fails alone, past it, with a BackpressureError after the values already sent: its
   * Observable is torn down and its `ctx.signal` aborted. At most `maxWriteBuffer`.
   * @default a quarter of `maxWriteBuffer` (16777216, 16 MiB, with the default)
   */
  maxStreamBuffer: number;
  /**
   * How the server tells a client that stopped reading from a slow one: while its connection is
   * over `maxWriteBuffer`, some bytes must leave every this many ms; when none did, the connection
   * is cut (ConnectionClosedError "peer is not reading") and its handlers aborted. Checked by a
   * timer that runs only while over the limit, so a stall is found within twice this. A client
   * that stops reading while its calls are in flight declares the server dead after its own
   * `heartbeatTimeout` (10 s) anyway; this covers clients whose process hangs, and peers that keep
   * sending without reading (those are also cut at once past twice `maxWriteBuffer` plus a frame).
   * @default 30000
   */
  writeStallTimeout: number;
  /**
   * Handlers this server runs at once, over all connections: requests and events. Above it a
   * request is refused at once with a ServerBusyError (code 'ERR_SERVER_BUSY'; clients fail over
   * idempotent calls) and an event is dropped (counted in `server.metrics` as `eventsRefused`, and
   * logged at most once per 10 s with the count) instead of queueing without bound. A slot is held
   * until the handler finished (its promise settled, its stream torn down), not until its call
   * ended: a caller that timed out or cancelled frees nothing while the handler still runs (it is
   * told to stop through `ctx.signal`). 0 = unlimited.
   * @default 10000
   */
  maxConcurrentRequests: number;
  /**
   * Open client connections this server accepts; above it new sockets are closed as soon as the
   * kernel hands them over (before any TLS handshake or allocation), so a flood of idle sockets
   * cannot exhaust file descriptors or memory. A connection costs a descriptor and a few KiB
   * idle; consumers keep one connection per provider (`connectionsPerProvider`), so 10000 is far
   * more consumers than one provider serves, and well under the usual descriptor limits. Refusals
   * are logged at most once per 10 s. 0 = unlimited.
   * @default 10000
   */
  maxConnections: number;
  /**
   * Count calls, errors and latency per pattern on this server (read them from `server.metrics`,
   * e.g. `server.metrics.toPrometheus('msrpc_server')`). Its own instance, apart from clients'.
   * @default true
   */
  metrics: boolean;
  /**
   * OpenTelemetry spans: a SERVER span per request and a CONSUMER span per event (RPC semantic
   * conventions, `rpc.system` 'nestjs-ms-rpc'), children of the caller's span when its metadata
   * carries a W3C trace context; the handler runs in its span's context. Takes effect only where
   * `@opentelemetry/api` is installed (an optional peer dependency, loaded when the server is built)
   * and an SDK is registered (e.g. NodeSDK); until then it costs one check per request. `false`
   * never loads the API. See docs/observability-tracing.md.
   * @default true
   */
  tracing: boolean;
  /**
   * Where to register this provider once listening (e.g. a NacosRegistry). It is deregistered
   * on close(), before the server stops accepting. Requires `service`.
   * @default undefined (no registration: direct mode)
   */
  registry?: Registry;
  /**
   * How long (ms) each registry call is waited for: every register attempt (a timed-out one is
   * retried with backoff) and, on close(), the deregistration. With every registry node down or
   * hanging, the server still starts draining this long after close() at most.
   * @default 3000
   */
  registryTimeout: number;
  /**
   * Service name to register under (with `version`: `name:version`).
   * @default undefined
   */
  service?: string;
  /**
   * Service version; consumers asking for another version never see this provider.
   * @default undefined
   */
  version?: string;
  /**
   * Registry group.
   * @default undefined (the registry's default, Nacos: 'DEFAULT_GROUP')
   */
  group?: string;
  /**
   * Registry cluster.
   * @default undefined (the registry's default, Nacos: 'DEFAULT')
   */
  cluster?: string;
  /**
   * Share of traffic relative to other providers (load balancers read it from the registry).
   * @default 1
   */
  weight: number;
  /**
   * Address consumers should dial. When `host` is a wildcard ('0.0.0.0', '::') it defaults to
   * this machine's first non-internal IPv4 address, otherwise to `host`.
   * @default derived from `host`
   */
  advertisedHost?: string;
  /**
   * Extra registry metadata (strings). The server adds `protocol`, `codec`, `patterns`, `events`,
   * `startTime` and `idleTimeout` itself.
   * @default {}
   */
  metadata: Record<string, string>;
}

export const DEFAULT_SERVER_OPTIONS: Readonly<MsRpcServerOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  idleTimeout: 60000,
  frameTimeout: 30000,
  clientHeartbeatInterval: DEFAULT_CONNECTION_OPTIONS.heartbeatInterval,
  shutdownTimeout: 10000,
  maxWriteBuffer: 64 * 1024 * 1024,
  maxStreamBuffer: 16 * 1024 * 1024,
  writeStallTimeout: 30000,
  weight: 1,
  metadata: {},
  maxConcurrentRequests: 10_000,
  maxConnections: 10_000,
  metrics: true,
  tracing: true,
  registryTimeout: DEFAULT_REGISTRY_TIMEOUT,
  ...DEFAULT_SERVER_SECURITY_OPTIONS,
  ...resolveProtocolOptions(),
});

const SERVER_KEYS = [
  'host',
  'port',
  'idleTimeout',
  'frameTimeout',
  'clientHeartbeatInterval',
  'shutdownTimeout',
  'maxWriteBuffer',
  'maxStreamBuffer',
  'writeStallTimeout',
  'maxConcurrentRequests',
  'maxConnections',
  'metrics',
  'tracing',
  'registry',
  'registryTimeout',
  'service',
  'version',
  'group',
  'cluster',
  'weight',
  'advertisedHost',
  'metadata',
] as const;

export function resolveServerOptions(partial: Partial<MsRpcServerOptions> = {}): MsRpcServerOptions {
  checkOptionsObject('MsRpcServer', partial, [...SERVER_KEYS, ...PROTOCOL_OPTION_KEYS, ...SERVER_SECURITY_OPTION_KEYS]);
  const defined = definedOptions(partial);
  const o: MsRpcServerOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    ...defined,
    ...resolveProtocolOptions(partial, 'MsRpcServer'),
    ...resolveServerSecurityOptions(defined, 'MsRpcServer'),
  };
  checkString('MsRpcServer.host', o.host);
  checkInteger('MsRpcServer.port', o.port, 0, 65535);
  checkInteger('MsRpcServer.idleTimeout', o.idleTimeout, 0);
  checkInteger('MsRpcServer.frameTimeout', o.frameTimeout, 0);
  checkInteger('MsRpcServer.shutdownTimeout', o.shutdownTimeout, 0);
  checkInteger('MsRpcServer.maxWriteBuffer', o.maxWriteBuffer, 1024);
  if (defined.maxStreamBuffer === undefined) o.maxStreamBuffer = Math.floor(o.maxWriteBuffer / 4);
  checkInteger('MsRpcServer.maxStreamBuffer', o.maxStreamBuffer, 256, o.maxWriteBuffer);
  checkInteger('MsRpcServer.writeStallTimeout', o.writeStallTimeout, 100);
  checkNumber('MsRpcServer.weight', o.weight, 0, 10_000);
  checkInteger('MsRpcServer.maxConcurrentRequests', o.maxConcurrentRequests, 0);
  checkInteger('MsRpcServer.maxConnections', o.maxConnections, 0);
  checkBoolean('MsRpcServer.metrics', o.metrics);
  checkBoolean('MsRpcServer.tracing', o.tracing);
  checkInteger('MsRpcServer.registryTimeout', o.registryTimeout, 1, MAX_TIMER_DELAY_MS);
  for (const field of ['service', 'version', 'group', 'cluster', 'advertisedHost'] as const) {
    if (o[field] !== undefined) checkString(`MsRpcServer.${field}`, o[field]);
  }
  if (o.registry !== undefined) checkRegistry('MsRpcServer.registry', o.registry);
  if (o.registry && !o.service) {
    throw new InvalidOptionsError('MsRpcServer.service', 'required with a registry: it is the name this provider registers under');
  }
  if (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata)) {
    throw new InvalidOptionsError('MsRpcServer.metadata', 'expected an object of strings');
  }
  for (const [key, value] of Object.entries(o.metadata)) checkString(`MsRpcServer.metadata.${key}`, value, true);
  const clientInterval = checkInteger('MsRpcServer.clientHeartbeatInterval', o.clientHeartbeatInterval, 1);
  if (o.idleTimeout !== 0 && o.idleTimeout <= clientInterval) {
    throw new InvalidOptionsError(
      'MsRpcServer.idleTimeout',
      `must exceed the client heartbeat interval (clientHeartbeatInterval, ${clientInterval} ms) or healthy idle clients get cut; got ${o.idleTimeout}`,
    );
  }
  return o;
}
