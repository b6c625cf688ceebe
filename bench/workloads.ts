/**
 * The benchmark's workload table. Adding a row here is all it takes to measure a new cell;
 * a new `kind` additionally needs a runner in run.ts (e.g. an idle-connections memory row).
 */

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

// Future kinds join this union (e.g. `IdleConnectionsWorkload { kind: 'idle-connections'; connections }`).
export type Workload = EchoWorkload;

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
];

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Deterministic ASCII payload, so every system echoes exactly the same bytes. */
export function makePayload(bytes: number): string {
  return ALPHABET.repeat(Math.ceil(bytes / ALPHABET.length)).slice(0, bytes);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024}KiB` : `${bytes}B`;
}
