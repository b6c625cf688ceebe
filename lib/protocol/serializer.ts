import { CodecId } from './frame-header.js';

/**
 * Turns application values into bytes and back. An empty buffer always stands for
 * `undefined` (a handler that returns nothing), whatever the codec.
 */
export interface Serializer {
  readonly id: CodecId;
  readonly name: SerializerName;
  serialize(value: unknown): Buffer;
  /** Throws on malformed input; the caller wraps the error in a FrameDecodeError. */
  deserialize(bytes: Buffer): unknown;
}

export type SerializerName = 'json' | 'msgpack';
