/**
 * The benchmark's workload table. Adding a row here is all it takes to measure a new cell;
 * a new `kind` additionally needs a runner in run.ts.
 */
import type { ScaleWorkloadSpec } from './scale/scale-types.js';

export type Codec = 'json' | 'msgpack';
export const CODECS: readonly Codec[] = ['json', 'msgpack'];

/** Closed-loop echo round trips over one connection with `concurrency` calls in flight. */
export interface EchoWorkload {
  readonly kind: 'echo';
  /** Stable id used in the table and the results JSON. */
  readonly id: string;
  /** Payload is a string of this many ASCII characters (identical for every system). */
  readonly payloadBytes: number;
  readonly concurrency: number;
  /** Forces the ms-rpc codec for this row; otherwise `--codec` applies. */
  readonly codec?: Codec;
  /** Part of `--quick` (the regression guard). */
  readonly quick?: boolean;
}

/**
 * Many idle client connections to one server process: the server's heap per connection and
 * its CPU while only heartbeats flow (see idle-cell.ts for what each system's clients do).
 */
export interface IdleConnectionsWorkload {
  readonly kind: 'idle-connections';
  readonly id: string;
  readonly connections: number;
  /** Wait after the last connect before measuring: every connection pings at least once. */
  readonly settleMs: number;
  /** CPU measurement window (a few heartbeat intervals). */
  readonly measureMs: number;
  /**
   * Heartbeat settings instead of the defaults (client interval and timeout, server idleTimeout).
   * Such a row runs ms-rpc and raw-net: how the heartbeat CPU scales with the interval.
   */
  readonly heartbeat?: { readonly intervalMs: number; readonly timeoutMs: number; readonly serverIdleMs: number };
}

/**
 * The large-service rows: in-process, no sockets (bench/scale/): applying registry pushes, picks
 * per balancer, heap per known provider, and which providers a client connects to.
 */
export interface ScaleWorkload {
  readonly kind: 'scale';
  readonly id: string;
  readonly spec: ScaleWorkloadSpec;
}

export type Workload = EchoWorkload | IdleConnectionsWorkload | ScaleWorkload;

function echo(payloadBytes: number, concurrency: number, extra: Partial<EchoWorkload> = {}): EchoWorkload {
  const id = `echo ${formatBytes(payloadBytes)} x${concurrency}${extra.codec ? ` ${extra.codec}` : ''}`;
  return { kind: 'echo', id, payloadBytes, concurrency, ...extra };
}

export const WORKLOADS: readonly Workload[] = [
  echo(64, 1),
  echo(64, 16),
  echo(64, 128, { quick: true }),
  echo(16 * 1024, 1),
  echo(16 * 1024, 16),
  echo(16 * 1024, 128),
  echo(16 * 1024, 128, { codec: 'msgpack' }),
  // Idle connections ping every 20 s (idleHeartbeatInterval, the client default), all within the
  // connect burst of each other: settle past the first pings, measure exactly two intervals.
  { kind: 'idle-connections', id: 'idle 10k conns', connections: 10_000, settleMs: 21_000, measureMs: 40_000 },
  // Every connection pinging at Moleculer's heartbeat period (10 s, dead after 30 s), busy or idle
  // (idleHeartbeatInterval 0): CPU scales with the rate.
  {
    kind: 'idle-connections',
    id: 'idle 10k conns hb 10s',
    connections: 10_000,
    settleMs: 11_000,
    measureMs: 20_000,
    heartbeat: { intervalMs: 10_000, timeoutMs: 30_000, serverIdleMs: 30_000 },
  },
  // 1,000 providers; for the heap and lazy rows in 100 groups of 10 serving different patterns.
  { kind: 'scale', id: 'scale 1k providers', spec: { providers: 1000, shards: 100, changedShare: 0.1, pushes: 5 } },
];

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Deterministic ASCII payload, so every system echoes exactly the same bytes. */
export function makePayload(bytes: number): string {
  return ALPHABET.repeat(Math.ceil(bytes / ALPHABET.length)).slice(0, bytes);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}B`;
}
