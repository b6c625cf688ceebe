import { checkInteger, checkOneOf } from '../common/option-checks.js';
import { CompressionName } from './compressor.js';
import { SerializerName } from './serializer.js';

/** Wire-level settings shared by client and server. Limits apply to both directions. */
export interface ProtocolOptions {
  /**
   * Codec used for frames this side originates. Incoming frames are decoded with whatever
   * codec their header names, and a server answers in the codec of the request.
   * @default 'json'
   */
  codec: SerializerName;
  /**
   * Compression for outgoing bodies at or above `compressThreshold` bytes.
   * @default 'none'
   */
  compression: CompressionName;
  /**
   * Smallest serialized body that gets compressed; smaller bodies are sent as they are,
   * since compressing them costs more CPU than it saves bytes.
   * @default 8192
   */
  compressThreshold: number;
  /**
   * Largest frame (header + body, as sent) accepted or produced, in bytes. Checked from the
   * header before any body byte is buffered.
   * @default 8388608 (8 MiB)
   */
  maxFrameSize: number;
  /**
   * Largest body after decompression, in bytes: the cap that defuses gzip bombs.
   * @default 8388608 (8 MiB)
   */
  maxBodySize: number;
  /**
   * Longest message pattern, in UTF-8 bytes.
   * @default 1024
   */
  maxPatternLength: number;
}

export const DEFAULT_PROTOCOL_OPTIONS: Readonly<ProtocolOptions> = Object.freeze({
  codec: 'json',
  compression: 'none',
  compressThreshold: 8192,
  maxFrameSize: 8 * 1024 * 1024,
  maxBodySize: 8 * 1024 * 1024,
  maxPatternLength: 1024,
});

export const PROTOCOL_OPTION_KEYS = Object.keys(DEFAULT_PROTOCOL_OPTIONS) as (keyof ProtocolOptions)[];

/**
 * Picks the protocol fields out of a component's options (client and server options extend
 * these), merges defaults and validates; `prefix` names the option path in errors.
 */
export function resolveProtocolOptions(partial: Partial<ProtocolOptions> = {}, prefix = ''): ProtocolOptions {
  const p = (field: string) => (prefix ? `${prefix}.${field}` : field);
  const o: ProtocolOptions = { ...DEFAULT_PROTOCOL_OPTIONS };
  for (const key of PROTOCOL_OPTION_KEYS) {
    if (partial[key] !== undefined) (o as unknown as Record<string, unknown>)[key] = partial[key];
  }
  checkOneOf(p('codec'), o.codec, ['json', 'msgpack']);
  checkOneOf(p('compression'), o.compression, ['none', 'gzip']);
  checkInteger(p('compressThreshold'), o.compressThreshold, 0);
  // 64 bytes leaves room for a header and a minimal body; 2^32-1 is the header's length field limit.
  checkInteger(p('maxFrameSize'), o.maxFrameSize, 64, 0xffffffff);
  checkInteger(p('maxBodySize'), o.maxBodySize, 64, 2 ** 31 - 1);
  checkInteger(p('maxPatternLength'), o.maxPatternLength, 1, 65535);
  return o;
}
