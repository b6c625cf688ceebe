import { ASCII_LITERAL_MIN_LENGTH, isAscii, writeAsciiLiteral } from './json-ascii-string.js';
import { JsonSerializer } from './json-serializer.js';
import type { JsonStringScanner } from './json-string-scan.js';
import { Serializer } from './serializer.js';

/**
 * A long ASCII string value for the JSON codec, written as a JSON string literal without going
 * through JSON.stringify (see json-ascii-string.ts). Whether it needs escaping after all is only
 * known once written: the encoder then falls back to {@link jsonPart}.
 */
export class AsciiLiteral {
  constructor(
    readonly value: string,
    /** The JSON serializer's scanner, which checks the bytes once written. */
    readonly scanner: JsonStringScanner,
  ) {}
}

/**
 * A serialized value as the frame encoder writes it: a string is (JSON) text written as UTF-8
 * (`''` = no value), a Buffer is copied as it is.
 */
export type Part = string | Buffer | AsciiLiteral;

/** Serializes `value`; `literals` allows the unescaped string literal shortcut. */
export function part(serializer: Serializer, value: unknown, literals = true): Part {
  if (
    literals &&
    typeof value === 'string' &&
    value.length >= ASCII_LITERAL_MIN_LENGTH &&
    serializer instanceof JsonSerializer &&
    isAscii(value)
  ) {
    return new AsciiLiteral(value, serializer.strings);
  }
  return serializer.serializeToString ? serializer.serializeToString(value) : serializer.serialize(value);
}

/** The ordinary JSON text of a literal that needs escaping. */
export function jsonPart(value: Part): Part {
  return value instanceof AsciiLiteral ? JSON.stringify(value.value) : value;
}

/** Bytes `value` takes in the frame. */
export function partLength(value: Part): number {
  if (typeof value === 'string') return value.length === 0 ? 0 : Buffer.byteLength(value, 'utf8');
  if (value instanceof AsciiLiteral) return value.value.length + 2;
  return value.length;
}

/**
 * Writes `value` (`length` bytes, from partLength) at `offset`. Returns false only for an
 * {@link AsciiLiteral} that needs escaping (the bytes written are then garbage).
 */
export function writePart(target: Buffer, offset: number, value: Part, length: number): boolean {
  if (length === 0) return true;
  if (typeof value === 'string') {
    // As many bytes as UTF-16 units means pure ASCII, where latin1 writes the same bytes faster.
    target.write(value, offset, length, length === value.length ? 'latin1' : 'utf8');
    return true;
  }
  if (value instanceof AsciiLiteral) return writeAsciiLiteral(target, offset, value.value, value.scanner);
  value.copy(target, offset);
  return true;
}

/** A Request / Event body at `offset`: `u16 patternLength | pattern | u32 metadataLength | metadata | data`. */
export function writeRoute(
  target: Buffer,
  offset: number,
  pattern: string,
  patternLength: number,
  meta: Part,
  metaLength: number,
  payload: Part,
  payloadLength: number,
): boolean {
  target.writeUInt16BE(patternLength, offset);
  writePart(target, offset + 2, pattern, patternLength);
  offset += 2 + patternLength;
  target.writeUInt32BE(metaLength, offset);
  offset += 4;
  return writePart(target, offset, meta, metaLength) && writePart(target, offset + metaLength, payload, payloadLength);
}

/** `Object.keys(object).length > 0` without building the array. */
export function hasKeys(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}
