import { CodecId } from './frame-header.js';

/**
 * Turns application values into bytes and back. An empty buffer always stands for
 * `undefined` (a handler that returns nothing), whatever the codec.
 */
export interface Serializer {
  readonly id: CodecId;
  readonly name: SerializerName;
  serialize(value: unknown): Buffer;
  /**
   * Text codecs only: the UTF-8 text `serialize` would encode, as a string (`''` = no value), so
   * the frame encoder can write it straight into the frame instead of copying a buffer.
   */
  serializeToString?(value: unknown): string;
  /** Throws on malformed input; the caller wraps the error in a FrameDecodeError. */
  deserialize(bytes: Buffer): unknown;
  /** `deserialize(bytes.subarray(start, end))` without creating the subarray. */
  deserializeRange?(bytes: Buffer, start: number, end: number): unknown;
}

export type SerializerName = 'json' | 'msgpack';
