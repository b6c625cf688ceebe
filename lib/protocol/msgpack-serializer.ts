import { Packr } from 'msgpackr';
import { CodecId } from './frame-header.js';
import { Serializer } from './serializer.js';

const EMPTY = Buffer.alloc(0);

/**
 * MessagePack through `msgpackr`. Records and structured clones are off so that any
 * MessagePack implementation (another language, another version) can read our bytes.
 */
export class MsgPackSerializer implements Serializer {
  readonly id = CodecId.MsgPack;
  readonly name = 'msgpack' as const;
  private readonly packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

  serialize(value: unknown): Buffer {
    if (value === undefined) return EMPTY;
    return this.packr.pack(value);
  }

  deserialize(bytes: Buffer): unknown {
    if (bytes.length === 0) return undefined;
    return this.packr.unpack(bytes);
  }
}
