import { Clock, systemClock } from '../common/clock.js';
import { EncodeError } from '../errors/encode-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { Compressor } from './compressor.js';
import { hasKeys, jsonPart, part, Part, partLength, writePart, writeRoute } from './body-parts.js';
import { encodeFrame } from './frame-encoder.js';
import { FramePool, POOL_MAX_FREE_BYTES } from './frame-pool.js';
import { CodecId, CompressionId, Frame, HEADER_SIZE, MessageType, writeHeader } from './frame-header.js';
import { GzipCompressor } from './gzip-compressor.js';
import { JsonSerializer } from './json-serializer.js';
import { EventMessage, HelloSettings, Message, Metadata, RequestMessage } from './message.js';
import { MsgPackSerializer } from './msgpack-serializer.js';
import { PatternCache } from './pattern-cache.js';
import { ProtocolOptions } from './protocol-options.js';
import { Serializer } from './serializer.js';
import { toWireError } from './wire-error.js';

/** u16 pattern length + u32 metadata length. */
const ROUTE_PREFIX = 6;
/** The u32 budget in front of a DeadlineRequest's route. */
const BUDGET_SIZE = 4;
/** Largest budget the u32 field holds (about 49 days: far past any timer). */
const MAX_BUDGET_MS = 0xffffffff;


/**
 * Messages ⇄ frames. The envelope is binary (no JSON around the payload):
 *
 * - Request / Event body: `u16 patternLength | pattern (UTF-8) | u32 metadataLength | metadata | data`
 *   where metadata (a string map) and data are encoded with the frame's codec;
 * - DeadlineRequest body: `u32 budgetMs | ` the Request body. The budget is the caller's remaining
 *   time, relative, so that the hosts' clocks need not agree (as gRPC's `grpc-timeout`). A binary
 *   field rather than a reserved metadata key: every request carries one, and a metadata key would
 *   cost a metadata map to encode, parse and strip per call, where this costs four bytes. A frame
 *   type of its own keeps the protocol version: a client sends it only to servers whose Hello
 *   announced `deadlines`, and an older client's plain Requests carry no budget;
 * - Response / End / Error body: the codec-encoded value (empty = no value);
 * - Ping / Pong / Cancel: empty; GoAway and Hello: a codec-encoded object.
 *
 * Compression, when the frame says so, covers the whole body. Instances hold their own
 * serializers: nothing here is global.
 */
export class MessageCodec {
  /** Serializers by codec id (a plain array: looked up for every frame). */
  private readonly serializerById: Serializer[] = [];
  private readonly compressors = new Map<CompressionId, Compressor>();
  private readonly outgoing: Serializer;
  private readonly compressor: Compressor | undefined;
  private readonly patterns = new PatternCache();
  /** Large uncompressed frames reuse slabs the transport hands back (see frame-pool.ts). */
  private readonly frames: FramePool;

  constructor(
    private readonly options: ProtocolOptions,
    /** Drives the frame pool's idle trimming. */
    clock: Clock = systemClock,
  ) {
    this.frames = new FramePool(POOL_MAX_FREE_BYTES, clock);
    for (const s of [new JsonSerializer(), new MsgPackSerializer()]) this.serializerById[s.id] = s;
    const gzip = new GzipCompressor();
    this.compressors.set(gzip.id, gzip);
    this.outgoing = this.serializerById[options.codec === 'msgpack' ? CodecId.MsgPack : CodecId.Json];
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
   * answers in the codec of the request). Throws FrameTooLargeError, or EncodeError for a value
   * the codec cannot serialize, before anything is sent.
   *
   * One allocation per frame: the header and the body are written straight into the frame
   * buffer, JSON text included (no intermediate body buffer to copy), unless compressed.
   */
  encode(message: Message, codec: CodecId = this.outgoing.id): Buffer {
    const serializer = this.serializerById[codec] ?? this.outgoing;
    try {
      return this.encodeWith(message, serializer);
    } catch (err) {
      if (err instanceof MsRpcError) throw err;
      throw new EncodeError(
        `${MessageType[message.type]} cannot be encoded with ${serializer.name}: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
  }

  private encodeWith(message: Message, serializer: Serializer): Buffer {
    switch (message.type) {
      case MessageType.Request: {
        const budget = message.budgetMs;
        if (budget === undefined) {
          return this.encodeRoute(message.type, message.requestId, serializer, message.pattern, message.metadata, message.data, -1);
        }
        const budgetMs = budget <= 0 ? 0 : budget >= MAX_BUDGET_MS ? MAX_BUDGET_MS : Math.ceil(budget);
        return this.encodeRoute(MessageType.DeadlineRequest, message.requestId, serializer, message.pattern, message.metadata, message.data, budgetMs);
      }
      case MessageType.Event:
        return this.encodeRoute(message.type, 0, serializer, message.pattern, message.metadata, message.data, -1);
      case MessageType.Response:
        return this.encodeValue(message.type, message.requestId, serializer, part(serializer, message.data));
      case MessageType.End:
        return this.encodeValue(message.type, message.requestId, serializer, message.hasData ? part(serializer, message.data) : '');
      case MessageType.Error:
        return this.encodeValue(message.type, message.requestId, serializer, part(serializer, toWireError(message.error)));
      case MessageType.Ping:
      case MessageType.Pong:
      case MessageType.Cancel:
        return this.encodeValue(message.type, message.requestId, serializer, '');
      case MessageType.GoAway:
        return this.encodeValue(message.type, 0, serializer, part(serializer, { reason: message.reason }));
      case MessageType.Hello:
        return this.encodeValue(message.type, 0, serializer, part(serializer, message.settings));
    }
  }

  /** Decodes a frame's body. Throws FrameDecodeError / FrameTooLargeError on bad input. */
  decode(frame: Frame): Message {
    const body = this.inflate(frame);
    const serializer = this.serializerById[frame.codec];
    if (!serializer) throw new FrameDecodeError(`Unknown codec id ${frame.codec}`);
    const requestId = frame.requestId;
    switch (frame.type) {
      case MessageType.Request:
      case MessageType.Event:
        return this.decodeRoute(frame.type, requestId, serializer, body, 0, undefined);
      case MessageType.DeadlineRequest:
        if (body.length < BUDGET_SIZE) throw new FrameDecodeError(`Body of ${body.length} bytes is too short for a budget`);
        return this.decodeRoute(MessageType.Request, requestId, serializer, body, BUDGET_SIZE, body.readUInt32BE(0));
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

  /** A frame whose body is one value (or empty). */
  private encodeValue(type: MessageType, requestId: number, serializer: Serializer, value: Part): Buffer {
    const bodyLength = partLength(value);
    this.checkBody(bodyLength);
    if (this.shouldCompress(bodyLength)) {
      let body: Buffer;
      if (Buffer.isBuffer(value)) {
        body = value;
      } else {
        body = Buffer.allocUnsafe(bodyLength);
        if (!writePart(body, 0, value, bodyLength)) return this.encodeValue(type, requestId, serializer, jsonPart(value));
      }
      return this.compressedFrame(type, serializer.id, requestId, body);
    }
    const frame = this.allocFrame(type, serializer.id, requestId, bodyLength);
    // A string literal that turned out to need escaping: encode it the ordinary way.
    if (!writePart(frame, HEADER_SIZE, value, bodyLength)) return this.encodeValue(type, requestId, serializer, jsonPart(value));
    return frame;
  }

  /**
   * Request / Event: `u16 patternLength | pattern | u32 metadataLength | metadata | data`, after
   * `u32 budgetMs` when `budgetMs` is not -1 (a DeadlineRequest).
   */
  private encodeRoute(
    type: MessageType,
    requestId: number,
    serializer: Serializer,
    pattern: string,
    metadata: Metadata | undefined,
    data: unknown,
    budgetMs: number,
    literals = true,
  ): Buffer {
    const patternLength = Buffer.byteLength(pattern, 'utf8');
    if (patternLength > this.options.maxPatternLength) {
      throw new FrameTooLargeError(patternLength, this.options.maxPatternLength, 'Pattern');
    }
    const meta: Part = metadata !== undefined && hasKeys(metadata) ? part(serializer, metadata, false) : '';
    const payload = part(serializer, data, literals);
    const metaLength = partLength(meta);
    const payloadLength = partLength(payload);
    const prefix = budgetMs < 0 ? 0 : BUDGET_SIZE;
    const bodyLength = prefix + ROUTE_PREFIX + patternLength + metaLength + payloadLength;
    this.checkBody(bodyLength);
    const compress = this.shouldCompress(bodyLength);
    const target = compress ? Buffer.allocUnsafe(bodyLength) : this.allocFrame(type, serializer.id, requestId, bodyLength);
    const start = compress ? 0 : HEADER_SIZE;
    if (prefix !== 0) target.writeUInt32BE(budgetMs, start);
    if (!writeRoute(target, start + prefix, pattern, patternLength, meta, metaLength, payload, payloadLength)) {
      return this.encodeRoute(type, requestId, serializer, pattern, metadata, data, budgetMs, false);
    }
    return compress ? this.compressedFrame(type, serializer.id, requestId, target) : target;
  }

  private checkBody(bodyLength: number): void {
    if (bodyLength > this.options.maxBodySize) {
      // Limits apply both ways: a peer with our limits would only reject this body after inflating
      // it (an event would vanish silently); fail here, where the caller sees why, before gzipping.
      throw new FrameTooLargeError(bodyLength, this.options.maxBodySize, 'Outgoing body');
    }
  }

  private shouldCompress(bodyLength: number): boolean {
    return this.compressor !== undefined && bodyLength > 0 && bodyLength >= this.options.compressThreshold;
  }

  /** An uncompressed frame with its header written; the caller writes the body after it. */
  private allocFrame(type: MessageType, codec: CodecId, requestId: number, bodyLength: number): Buffer {
    const total = HEADER_SIZE + bodyLength;
    if (total > this.options.maxFrameSize) {
      throw new FrameTooLargeError(total, this.options.maxFrameSize, 'Outgoing frame');
    }
    const frame = this.frames.alloc(total);
    writeHeader(frame, 0, type, codec, CompressionId.None, requestId, bodyLength);
    return frame;
  }

  /**
   * The socket has written `frame` (one this codec encoded) and nothing refers to it any more:
   * its memory may carry the next large frame. Frames of other origins are ignored.
   */
  releaseFrame(frame: Buffer): void {
    this.frames.release(frame);
  }

  /** Frees the pooled frame memory and stops the pool's timer (the codec's owner is closing). */
  close(): void {
    this.frames.close();
  }

  private compressedFrame(type: MessageType, codec: CodecId, requestId: number, body: Buffer): Buffer {
    let compression = CompressionId.None;
    const compressed = this.compressor!.compress(body);
    // Incompressible data (already compressed, random) is sent as it is.
    if (compressed.length < body.length) {
      body = compressed;
      compression = this.compressor!.id;
    }
    return encodeFrame(type, codec, compression, requestId, body, this.options.maxFrameSize);
  }

  /** The route at `start` of `body` (0, or after a DeadlineRequest's budget). */
  private decodeRoute(
    type: MessageType.Request | MessageType.Event,
    requestId: number,
    serializer: Serializer,
    body: Buffer,
    start: number,
    budgetMs: number | undefined,
  ): RequestMessage | EventMessage {
    if (body.length - start < ROUTE_PREFIX) throw new FrameDecodeError(`Body of ${body.length} bytes is too short for a route`);
    const patternLength = body.readUInt16BE(start);
    if (patternLength > this.options.maxPatternLength) {
      throw new FrameTooLargeError(patternLength, this.options.maxPatternLength, 'Pattern');
    }
    if (start + 2 + patternLength + 4 > body.length) throw new FrameDecodeError('Pattern length runs past the body');
    const pattern = this.patterns.decode(body, start + 2, start + 2 + patternLength);
    const metaLength = body.readUInt32BE(start + 2 + patternLength);
    const metaStart = start + ROUTE_PREFIX + patternLength;
    if (metaStart + metaLength > body.length) throw new FrameDecodeError('Metadata length runs past the body');
    let metadata: Metadata | undefined;
    if (metaLength > 0) {
      metadata = parseMetadata(this.value(serializer, body, 'metadata', metaStart, metaStart + metaLength));
    }
    const data = this.value(serializer, body, 'payload', metaStart + metaLength);
    if (type === MessageType.Request) {
      if (budgetMs !== undefined) return { type, requestId, pattern, data, metadata, budgetMs };
      return metadata ? { type, requestId, pattern, data, metadata } : { type, requestId, pattern, data };
    }
    return metadata ? { type, pattern, data, metadata } : { type, pattern, data };
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

  /** Deserializes `bytes[start, end)` (without a subarray when the serializer reads ranges). */
  private value(serializer: Serializer, bytes: Buffer, what: string, start = 0, end = bytes.length): unknown {
    try {
      if (serializer.deserializeRange) return serializer.deserializeRange(bytes, start, end);
      return serializer.deserialize(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
    } catch (err) {
      throw new FrameDecodeError(`Malformed ${serializer.name} ${what} (${end - start} bytes)`, { cause: err });
    }
  }

}

function parseMetadata(value: unknown): Metadata {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FrameDecodeError('Metadata must be a string map');
  }
  const out: Metadata = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      // The key is the peer's: quoted (no newlines or escape codes reach a log) and cut short.
      throw new FrameDecodeError(`Metadata value for ${JSON.stringify(k.length > 64 ? `${k.slice(0, 64)}...` : k)} is not a string`);
    }
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
  const settings: HelloSettings = { idleTimeoutMs: v.idleTimeoutMs as number, maxFrameSize: v.maxFrameSize as number };
  if (v.authToken !== undefined) {
    // Never echo the token: this message may be logged.
    if (typeof v.authToken !== 'string' || v.authToken.length > MAX_HELLO_TOKEN_LENGTH) {
      throw new FrameDecodeError('Malformed hello settings: authToken must be a string of at most 4096 characters');
    }
    settings.authToken = v.authToken;
  }
  // What a server serves: a malformed list is dropped (the client then learns from replies), never fatal.
  const patterns = stringList(v.patterns);
  if (patterns) settings.patterns = patterns;
  const events = stringList(v.events);
  if (events) settings.events = events;
  if (v.deadlines === true) settings.deadlines = true;
  return settings;
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((p) => typeof p === 'string') ? (value as string[]) : undefined;
}

/** Mirrors MAX_AUTH_TOKEN_LENGTH (lib/security): the protocol layer imports nothing above it. */
const MAX_HELLO_TOKEN_LENGTH = 4096;
