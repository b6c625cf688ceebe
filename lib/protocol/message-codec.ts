import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { Compressor } from './compressor.js';
import { encodeFrame } from './frame-encoder.js';
import { CodecId, CompressionId, Frame, HEADER_SIZE, MessageType } from './frame-header.js';
import { GzipCompressor } from './gzip-compressor.js';
import { JsonSerializer } from './json-serializer.js';
import { HelloSettings, Message, Metadata } from './message.js';
import { MsgPackSerializer } from './msgpack-serializer.js';
import { ProtocolOptions } from './protocol-options.js';
import { Serializer } from './serializer.js';

const EMPTY = Buffer.alloc(0);
/** u16 pattern length + u32 metadata length. */
const ROUTE_PREFIX = 6;

/**
 * Messages ⇄ frames. The envelope is binary (no JSON around the payload):
 *
 * - Request / Event body: `u16 patternLength | pattern (UTF-8) | u32 metadataLength | metadata | data`
 *   where metadata (a string map) and data are encoded with the frame's codec;
 * - Response / End / Error body: the codec-encoded value (empty = no value);
 * - Ping / Pong / Cancel: empty; GoAway and Hello: a codec-encoded object.
 *
 * Compression, when the frame says so, covers the whole body. Instances hold their own
 * serializers: nothing here is global.
 */
export class MessageCodec {
  private readonly serializers = new Map<CodecId, Serializer>();
  private readonly compressors = new Map<CompressionId, Compressor>();
  private readonly outgoing: Serializer;
  private readonly compressor: Compressor | undefined;

  constructor(private readonly options: ProtocolOptions) {
    for (const s of [new JsonSerializer(), new MsgPackSerializer()]) this.serializers.set(s.id, s);
    const gzip = new GzipCompressor();
    this.compressors.set(gzip.id, gzip);
    this.outgoing = this.serializers.get(options.codec === 'msgpack' ? CodecId.MsgPack : CodecId.Json)!;
    this.compressor = options.compression === 'gzip' ? gzip : undefined;
  }

  get codecId(): CodecId {
    return this.outgoing.id;
  }

  get maxFrameSize(): number {
    return this.options.maxFrameSize;
  }

  /**
   * Encodes a message into one frame buffer. `codec` overrides the default codec (a server
   * answers in the codec of the request). Throws FrameTooLargeError before anything is sent.
   */
  encode(message: Message, codec: CodecId = this.outgoing.id): Buffer {
    const serializer = this.serializers.get(codec) ?? this.outgoing;
    let body: Buffer;
    let requestId = 0;
    switch (message.type) {
      case MessageType.Request:
        requestId = message.requestId;
        body = this.encodeRoute(serializer, message.pattern, message.metadata, message.data);
        break;
      case MessageType.Event:
        body = this.encodeRoute(serializer, message.pattern, message.metadata, message.data);
        break;
      case MessageType.Response:
        requestId = message.requestId;
        body = serializer.serialize(message.data);
        break;
      case MessageType.End:
        requestId = message.requestId;
        body = message.hasData ? serializer.serialize(message.data) : EMPTY;
        break;
      case MessageType.Error:
        requestId = message.requestId;
        body = serializer.serialize(toWireError(message.error));
        break;
      case MessageType.Ping:
      case MessageType.Pong:
      case MessageType.Cancel:
        requestId = message.requestId;
        body = EMPTY;
        break;
      case MessageType.GoAway:
        body = serializer.serialize({ reason: message.reason });
        break;
      case MessageType.Hello:
        body = serializer.serialize(message.settings);
        break;
    }
    if (body.length > this.options.maxBodySize) {
      // Limits apply both ways: a peer with our limits would only reject this body after inflating
      // it (an event would vanish silently); fail here, where the caller sees why, before gzipping.
      throw new FrameTooLargeError(body.length, this.options.maxBodySize, 'Outgoing body');
    }
    let compression = CompressionId.None;
    if (this.compressor && body.length >= this.options.compressThreshold && body.length > 0) {
      const compressed = this.compressor.compress(body);
      // Incompressible data (already compressed, random) is sent as it is.
      if (compressed.length < body.length) {
        body = compressed;
        compression = this.compressor.id;
      }
    }
    return encodeFrame(message.type, serializer.id, compression, requestId, body, this.options.maxFrameSize);
  }

  /** Decodes a frame's body. Throws FrameDecodeError / FrameTooLargeError on bad input. */
  decode(frame: Frame): Message {
    const body = this.inflate(frame);
    const serializer = this.serializers.get(frame.codec);
    if (!serializer) throw new FrameDecodeError(`Unknown codec id ${frame.codec}`);
    const requestId = frame.requestId;
    switch (frame.type) {
      case MessageType.Request: {
        const route = this.decodeRoute(serializer, body);
        return { type: MessageType.Request, requestId, ...route };
      }
      case MessageType.Event:
        return { type: MessageType.Event, ...this.decodeRoute(serializer, body) };
      case MessageType.Response:
        return { type: MessageType.Response, requestId, data: this.value(serializer, body, 'response') };
      case MessageType.End:
        return body.length === 0
          ? { type: MessageType.End, requestId, hasData: false }
          : { type: MessageType.End, requestId, hasData: true, data: this.value(serializer, body, 'response') };
      case MessageType.Error:
        return { type: MessageType.Error, requestId, error: this.value(serializer, body, 'error') };
      case MessageType.Ping:
      case MessageType.Pong:
      case MessageType.Cancel:
        return { type: frame.type, requestId };
      case MessageType.GoAway: {
        const value = this.value(serializer, body, 'go-away') as { reason?: unknown } | undefined;
        return { type: MessageType.GoAway, reason: typeof value?.reason === 'string' ? value.reason : 'draining' };
      }
      case MessageType.Hello:
        return { type: MessageType.Hello, settings: parseHello(this.value(serializer, body, 'hello')) };
      default:
        throw new FrameDecodeError(`Unknown message type ${frame.type as number}`);
    }
  }

  private encodeRoute(serializer: Serializer, pattern: string, metadata: Metadata | undefined, data: unknown): Buffer {
    const patternLength = Buffer.byteLength(pattern, 'utf8');
    if (patternLength > this.options.maxPatternLength) {
      throw new FrameTooLargeError(patternLength, this.options.maxPatternLength, 'Pattern');
    }
    const meta = metadata && Object.keys(metadata).length > 0 ? serializer.serialize(metadata) : EMPTY;
    const payload = serializer.serialize(data);
    const body = Buffer.allocUnsafe(ROUTE_PREFIX + patternLength + meta.length + payload.length);
    body.writeUInt16BE(patternLength, 0);
    body.write(pattern, 2, 'utf8');
    body.writeUInt32BE(meta.length, 2 + patternLength);
    meta.copy(body, ROUTE_PREFIX + patternLength);
    payload.copy(body, ROUTE_PREFIX + patternLength + meta.length);
    return body;
  }

  private decodeRoute(serializer: Serializer, body: Buffer): { pattern: string; data: unknown; metadata?: Metadata } {
    if (body.length < ROUTE_PREFIX) throw new FrameDecodeError(`Body of ${body.length} bytes is too short for a route`);
    const patternLength = body.readUInt16BE(0);
    if (patternLength > this.options.maxPatternLength) {
      throw new FrameTooLargeError(patternLength, this.options.maxPatternLength, 'Pattern');
    }
    if (2 + patternLength + 4 > body.length) throw new FrameDecodeError('Pattern length runs past the body');
    const pattern = body.toString('utf8', 2, 2 + patternLength);
    const metaLength = body.readUInt32BE(2 + patternLength);
    const metaStart = ROUTE_PREFIX + patternLength;
    if (metaStart + metaLength > body.length) throw new FrameDecodeError('Metadata length runs past the body');
    let metadata: Metadata | undefined;
    if (metaLength > 0) {
      metadata = parseMetadata(this.value(serializer, body.subarray(metaStart, metaStart + metaLength), 'metadata'));
    }
    const data = this.value(serializer, body.subarray(metaStart + metaLength), 'payload');
    return metadata ? { pattern, data, metadata } : { pattern, data };
  }

  private inflate(frame: Frame): Buffer {
    if (frame.compression === CompressionId.None) {
      if (frame.body.length > this.options.maxBodySize) {
        throw new FrameTooLargeError(frame.body.length, this.options.maxBodySize, 'Body');
      }
      return frame.body;
    }
    const compressor = this.compressors.get(frame.compression);
    if (!compressor) throw new FrameDecodeError(`Unknown compression id ${frame.compression}`);
    return compressor.decompress(frame.body, this.options.maxBodySize);
  }

  private value(serializer: Serializer, bytes: Buffer, what: string): unknown {
    try {
      return serializer.deserialize(bytes);
    } catch (err) {
      throw new FrameDecodeError(`Malformed ${serializer.name} ${what} (${bytes.length} bytes)`, { cause: err });
    }
  }
}

/** Errors cross the wire as plain objects, the way Nest's transports deliver them. */
function toWireError(error: unknown): unknown {
  if (error instanceof Error) {
    const plain: Record<string, unknown> = { status: 'error', message: error.message, name: error.name };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') plain.code = code;
    return plain;
  }
  return error === undefined ? { status: 'error', message: 'Unknown error' } : error;
}

function parseMetadata(value: unknown): Metadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FrameDecodeError('Metadata must be a string map');
  }
  const out: Metadata = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new FrameDecodeError(`Metadata value for "${k}" is not a string`);
    out[k] = v;
  }
  return out;
}

function parseHello(value: unknown): HelloSettings {
  const v = value as Partial<HelloSettings> | undefined;
  if (
    !v ||
    typeof v !== 'object' ||
    !Number.isInteger(v.idleTimeoutMs) ||
    (v.idleTimeoutMs as number) < 0 ||
    !Number.isInteger(v.maxFrameSize) ||
    (v.maxFrameSize as number) < HEADER_SIZE
  ) {
    throw new FrameDecodeError('Malformed hello settings');
  }
  return { idleTimeoutMs: v.idleTimeoutMs as number, maxFrameSize: v.maxFrameSize as number };
}
