import { FrameDecodeError } from '../../../lib/errors/frame-decode-error.js';
import { FrameTooLargeError } from '../../../lib/errors/frame-too-large-error.js';
import { Frame, HEADER_SIZE, MAGIC, PROTOCOL_VERSION } from '../../../lib/protocol/frame-header.js';
import { FrameDecoder } from '../../../lib/protocol/frame-decoder.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { ProtocolOptions, resolveProtocolOptions } from '../../../lib/protocol/protocol-options.js';

/** Shared by the protocol specs (not a spec itself): raw header builders and small runners. */

export interface RawHeader {
  magic?: number;
  version?: number;
  /** Full frame length as written in the header; defaults to the real one. */
  length?: number;
  type?: number;
  codec?: number;
  compression?: number;
  requestId?: number;
}

/** Builds a frame byte by byte, independently of `writeHeader`, so tests can lie in any field. */
export function rawFrame(header: RawHeader = {}, body: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE + body.length);
  buf.writeUInt32BE(header.magic ?? MAGIC, 0);
  buf[4] = header.version ?? PROTOCOL_VERSION;
  buf.writeUInt32BE(header.length ?? HEADER_SIZE + body.length, 5);
  buf[9] = header.type ?? 2;
  buf[10] = header.codec ?? 1;
  buf[11] = header.compression ?? 0;
  buf.writeUInt32BE(header.requestId ?? 0, 12);
  body.copy(buf, HEADER_SIZE);
  return buf;
}

/** Copies a frame so later mutations of the source chunk cannot change what a test compares. */
export function snapshot(frame: Frame): Frame {
  return { ...frame, body: Buffer.from(frame.body) };
}

/** Pushes `chunks` in order and returns every frame delivered (copied). */
export function decodeAll(chunks: Buffer[], maxFrameSize = 1 << 20): Frame[] {
  const decoder = new FrameDecoder(maxFrameSize);
  const frames: Frame[] = [];
  for (const chunk of chunks) decoder.push(chunk, (f) => frames.push(snapshot(f)));
  return frames;
}

/** Decodes exactly one whole frame buffer. */
export function frameOf(buf: Buffer, maxFrameSize = 0xffffffff): Frame {
  const frames = decodeAll([buf], maxFrameSize);
  if (frames.length !== 1) throw new Error(`expected exactly one frame, got ${frames.length}`);
  return frames[0];
}

/** Splits `buf` at the given offsets (any order, duplicates and out-of-range values tolerated). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), buf.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    chunks.push(buf.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

export function codecWith(partial: Partial<ProtocolOptions> = {}): MessageCodec {
  return new MessageCodec(resolveProtocolOptions(partial));
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the function to throw');
}

export function isProtocolError(err: unknown): err is FrameDecodeError | FrameTooLargeError {
  return err instanceof FrameDecodeError || err instanceof FrameTooLargeError;
}

/** Deep copy that also turns -0 into 0, as both codecs do. */
export function jsonNormalized<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
