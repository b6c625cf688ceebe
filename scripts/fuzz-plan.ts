/**
 * The fuzz's attack plan: the categories of hostile input, how often each is drawn, and what the
 * server must do about each step (its `effect`), which the attacker checks:
 * - `benign`: framing stays intact (a bad body, a ping flood...): the connection survives;
 * - `fatal`: framing is broken (bad magic, a lying length over the limit...): the server must
 *   close the connection, at once;
 * - `any`: may or may not break framing (random flips, lengths that shift the stream);
 * - `truncate`: part of a frame, then the attacker closes;
 * - `stall`: part of a frame, then silence: the server must cut it by its frame/idle timeout.
 */
import { gzipSync } from 'node:zlib';
import { CodecId } from '../lib/protocol/frame-header.js';
import { FuzzRandom } from './fuzz-random.js';
import { encodeValue, randomText } from './fuzz-wire.js';

export const CATEGORIES = [
  'valid-request',
  'corrupt-body',
  'mutated-frame',
  'lying-length-long',
  'lying-length-short',
  'length-over-max',
  'length-under-header',
  'bad-magic',
  'bad-version',
  'unknown-type',
  'unknown-codec',
  'unknown-compression',
  'truncated-close',
  'gzip-bomb',
  'corrupt-gzip',
  'deep-json',
  'wide-body',
  'huge-pattern',
  'huge-metadata',
  'invalid-utf8',
  'msgpack-garbage',
  'request-id-reuse',
  'wrong-direction',
  'cancel-unknown',
  'ping-flood',
  'random-bytes',
  'event-garbage',
  'hello-garbage',
  'stall',
] as const;

export type Category = (typeof CATEGORIES)[number];
export type Effect = 'benign' | 'fatal' | 'any' | 'truncate' | 'stall';

export interface AttackStep {
  readonly category: Category;
  /** Written one `write()` each, so the server sees the step in several reads. */
  readonly chunks: Buffer[];
  readonly frames: number;
  readonly effect: Effect;
}

/** The limits of the server under attack (its ProtocolOptions). */
export interface TargetLimits {
  maxFrameSize: number;
  maxBodySize: number;
  maxPatternLength: number;
}

/**
 * How often each category is drawn (steps, not frames). Cheap categories dominate; the costly
 * ones (bombs, deep nesting: each costs the server milliseconds of CPU) stay a small share so
 * the well-formed clients are measured under attack, not under a CPU-bound server.
 */
export const DEFAULT_WEIGHTS: Readonly<Record<Category, number>> = Object.freeze({
  'valid-request': 8,
  'corrupt-body': 8,
  'mutated-frame': 8,
  'lying-length-long': 3,
  'lying-length-short': 3,
  'length-over-max': 2,
  'length-under-header': 2,
  'bad-magic': 2,
  'bad-version': 2,
  'unknown-type': 2,
  'unknown-codec': 2,
  'unknown-compression': 2,
  'truncated-close': 3,
  'gzip-bomb': 0.4,
  'corrupt-gzip': 3,
  'deep-json': 0.3,
  'wide-body': 0.3,
  'huge-pattern': 3,
  'huge-metadata': 1,
  'invalid-utf8': 4,
  'msgpack-garbage': 8,
  'request-id-reuse': 3,
  'wrong-direction': 2,
  'cancel-unknown': 4,
  'ping-flood': 1.5,
  'random-bytes': 3,
  'event-garbage': 4,
  'hello-garbage': 2,
  'stall': 0.15,
});

/**
 * Large payloads built once per attack and shared by every connection: building them per step
 * (compressing tens of MiB, serializing maps of thousands of keys) would make the attacker, not
 * the server, the bottleneck.
 */
export class SharedPayloads {
  /** A gzip body inflating to `inflated` zero bytes (~1/1000 of that on the wire). */
  readonly gzipBomb: Buffer;
  /** Metadata maps of thousands of string keys, by codec (small and large). */
  readonly hugeMetadata: Record<number, Buffer[]>;

  constructor(inflated: number, rng: FuzzRandom) {
    this.gzipBomb = gzipSync(Buffer.alloc(inflated), { level: 9 });
    const maps = [2_000, 20_000].map((keys) => {
      const meta: Record<string, unknown> = {};
      for (let i = 0; i < keys; i++) meta[`k${i}`] = randomText(rng, rng.int(0, 24));
      return meta;
    });
    // One in three with a non-string value: valid codec, invalid metadata.
    const bad = { ...maps[0], last: 7 };
    this.hugeMetadata = {
      [CodecId.Json]: [...maps, bad].map((m) => encodeValue(CodecId.Json, m)),
      [CodecId.MsgPack]: [...maps, bad].map((m) => encodeValue(CodecId.MsgPack, m)),
    };
  }
}

/** Per-connection state the generators need: fresh request ids, the shared payloads. */
export class AttackContext {
  private nextId = 1;

  constructor(
    readonly rng: FuzzRandom,
    readonly limits: TargetLimits,
    readonly shared: SharedPayloads,
  ) {}

  requestId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    return id;
  }
}
