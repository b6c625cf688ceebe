import { CodecId } from './frame-header.js';
import { Serializer } from './serializer.js';

const EMPTY = Buffer.alloc(0);

/** JSON (UTF-8): the default codec, readable on the wire and compatible with Nest's own transports. */
export class JsonSerializer implements Serializer {
  readonly id = CodecId.Json;
  readonly name = 'json' as const;

  serialize(value: unknown): Buffer {
    if (value === undefined) return EMPTY;
    const text = JSON.stringify(value);
    // JSON.stringify returns undefined for functions and symbols: send them as "no value".
    return text === undefined ? EMPTY : Buffer.from(text, 'utf8');
  }

  deserialize(bytes: Buffer): unknown {
    if (bytes.length === 0) return undefined;
    return JSON.parse(bytes.toString('utf8'));
  }
}
