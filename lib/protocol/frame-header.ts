/**
 * The 16-byte frame header, big-endian:
 *
 * | offset | size | field       |
 * |-------:|-----:|-------------|
 * |      0 |    4 | magic `msnb` |
 * |      4 |    1 | version     |
 * |      5 |    4 | full frame length (header + body) |
 * |      9 |    1 | message type |
 * |     10 |    1 | codec id    |
 * |     11 |    1 | compression id |
 * |     12 |    4 | request id (uint32; 0 for frames not tied to a call) |
 */
export const HEADER_SIZE = 16;
/** ASCII `msnb` read as a big-endian uint32. */
export const MAGIC = 0x6d736e62;
export const PROTOCOL_VERSION = 1;

export const enum HeaderOffset {
  Magic = 0,
  Version = 4,
  Length = 5,
  Type = 9,
  Codec = 10,
  Compression = 11,
  RequestId = 12,
}

/** What a frame carries. Values are wire constants: never renumber. */
export enum MessageType {
  /** Client → server: a call expecting responses (`send()`). */
  Request = 1,
  /** Server → client: one value of a response stream; more may follow. */
  Response = 2,
  /** Server → client: the stream completed; a non-empty body is its last value. */
  End = 3,
  /** Server → client: the call failed; the body is the error object. Terminal. */
  Error = 4,
  /** Client → server: fire-and-forget event (`emit()`). */
  Event = 5,
  Ping = 6,
  Pong = 7,
  /** Client → server: the caller unsubscribed; stop the handler for this request id. */
  Cancel = 8,
  /** Server → client: draining; send no new calls on this connection. */
  GoAway = 9,
  /** Either way, first frame on a connection: settings such as the server's idle timeout. */
  Hello = 10,
  /**
   * Client → server: a Request carrying the caller's remaining time budget (see message-codec.ts).
   * Sent only to a server whose Hello announced `deadlines`: an older server does not know this
   * type and would close the connection, so it gets plain Requests.
   */
  DeadlineRequest = 11,
}

export enum CodecId {
  Json = 1,
  MsgPack = 2,
}

export enum CompressionId {
  None = 0,
  Gzip = 1,
}

const MESSAGE_TYPES = new Set<number>(Object.values(MessageType).filter((v): v is number => typeof v === 'number'));
const CODEC_IDS = new Set<number>(Object.values(CodecId).filter((v): v is number => typeof v === 'number'));
const COMPRESSION_IDS = new Set<number>(
  Object.values(CompressionId).filter((v): v is number => typeof v === 'number'),
);

export function isMessageType(value: number): value is MessageType {
  return MESSAGE_TYPES.has(value);
}

export function isCodecId(value: number): value is CodecId {
  return CODEC_IDS.has(value);
}

export function isCompressionId(value: number): value is CompressionId {
  return COMPRESSION_IDS.has(value);
}

/** A decoded frame: header fields plus the raw (possibly compressed) body. */
export interface Frame {
  type: MessageType;
  codec: CodecId;
  compression: CompressionId;
  requestId: number;
  body: Buffer;
}

/** Writes a header into `target` at `offset` (no allocation). */
export function writeHeader(
  target: Buffer,
  offset: number,
  type: MessageType,
  codec: CodecId,
  compression: CompressionId,
  requestId: number,
  bodyLength: number,
): void {
  // Byte stores rather than writeUInt32BE: no argument checks, and this runs for every frame.
  const length = HEADER_SIZE + bodyLength;
  target[offset + HeaderOffset.Magic] = MAGIC >>> 24;
  target[offset + HeaderOffset.Magic + 1] = MAGIC >>> 16;
  target[offset + HeaderOffset.Magic + 2] = MAGIC >>> 8;
  target[offset + HeaderOffset.Magic + 3] = MAGIC;
  target[offset + HeaderOffset.Version] = PROTOCOL_VERSION;
  target[offset + HeaderOffset.Length] = length >>> 24;
  target[offset + HeaderOffset.Length + 1] = length >>> 16;
  target[offset + HeaderOffset.Length + 2] = length >>> 8;
  target[offset + HeaderOffset.Length + 3] = length;
  target[offset + HeaderOffset.Type] = type;
  target[offset + HeaderOffset.Codec] = codec;
  target[offset + HeaderOffset.Compression] = compression;
  target[offset + HeaderOffset.RequestId] = requestId >>> 24;
  target[offset + HeaderOffset.RequestId + 1] = requestId >>> 16;
  target[offset + HeaderOffset.RequestId + 2] = requestId >>> 8;
  target[offset + HeaderOffset.RequestId + 3] = requestId;
}
