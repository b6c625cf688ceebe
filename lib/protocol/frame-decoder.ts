import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import {
  Frame,
  HEADER_SIZE,
  HeaderOffset,
  MAGIC,
  PROTOCOL_VERSION,
  isCodecId,
  isCompressionId,
  isMessageType,
} from './frame-header.js';

/** The frame at `offset`, its body a view (not a copy) into `buf`. */
function frameAt(buf: Buffer, offset: number, length: number): Frame {
  return {
    type: buf[offset + HeaderOffset.Type],
    codec: buf[offset + HeaderOffset.Codec],
    compression: buf[offset + HeaderOffset.Compression],
    requestId: buf.readUInt32BE(offset + HeaderOffset.RequestId),
    // Chunks from the socket are never reused by Node, and the body's consumer decodes it
    // before the next chunk arrives anyway.
    body: buf.subarray(offset + HEADER_SIZE, offset + length),
  };
}

/**
 * Streaming frame decoder: feed it TCP chunks in any split, get whole frames out.
 *
 * Every header is validated as soon as its 16 bytes are present, before any body byte is
 * buffered, so a peer announcing a 4 GiB frame costs nothing. After the first error the
 * decoder is poisoned: a byte stream that lost framing cannot be resynchronised, so the
 * connection must close.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length of the frame whose header has been validated and whose body is awaited. */
  private expected = 0;
  private failed: Error | undefined;

  constructor(private readonly maxFrameSize: number) {}

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Consumes a chunk and returns every frame it completes. Throws {@link FrameDecodeError}
   * or {@link FrameTooLargeError}; frames completed before the bad one are delivered through
   * `onFrame` first, so nothing valid is lost.
   */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.failed) throw this.failed;
    if (chunk.length === 0) return;
    let offset = 0;
    try {
      if (this.pendingBytes > 0) {
        offset = this.completePending(chunk, onFrame);
        if (offset < 0 || this.failed) return;
      }
      while (chunk.length - offset >= HEADER_SIZE) {
        const length = this.readHeader(chunk, offset);
        if (chunk.length - offset < length) {
          this.expected = length;
          break;
        }
        onFrame(frameAt(chunk, offset, length));
        // Reset by the consumer (its connection closed over what that frame said): the rest of
        // the chunk is dropped, never delivered.
        if (this.failed) return;
        offset += length;
      }
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    if (offset < chunk.length) {
      this.pending.push(offset === 0 ? chunk : chunk.subarray(offset));
      this.pendingBytes = chunk.length - offset;
    }
  }

  /**
   * Adds `chunk` to the frame that started in earlier chunks. Once that frame is whole, copies
   * exactly its bytes into one buffer, delivers it, and returns where the rest of `chunk` starts;
   * returns -1 while the frame is still incomplete. Only the straddling frame is copied: the
   * frames after it are parsed in place, not concatenated with it.
   */
  private completePending(chunk: Buffer, onFrame: (frame: Frame) => void): number {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.expected === 0) {
      // While a large body trickles in we only collect chunk references, never copying the
      // growing buffer; the header is validated as soon as its 16 bytes are here.
      if (this.pendingBytes < HEADER_SIZE) return -1;
      const head = this.pending[0].length >= HEADER_SIZE ? this.pending[0] : Buffer.concat(this.pending, HEADER_SIZE);
      this.expected = this.readHeader(head, 0);
    }
    const length = this.expected;
    if (this.pendingBytes < length) return -1;
    const rest = this.pendingBytes - length;
    // The chunk is in `pending`, so there are at least two parts: join the frame's bytes only.
    const frame = Buffer.concat(this.pending, length);
    this.pending = [];
    this.pendingBytes = 0;
    this.expected = 0;
    onFrame(frameAt(frame, 0, length));
    return chunk.length - rest;
  }

  /** Drops buffered bytes; the decoder delivers nothing more, not even the rest of a chunk being decoded. */
  reset(reason: Error = new FrameDecodeError('Decoder closed')): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.failed = reason;
  }

  private fail(err: Error): void {
    this.reset(err);
  }

  /** Validates the header at `offset` and returns the full frame length. */
  private readHeader(buf: Buffer, offset: number): number {
    const magic = buf.readUInt32BE(offset + HeaderOffset.Magic);
    if (magic !== MAGIC) {
      throw new FrameDecodeError(
        `Bad magic 0x${magic.toString(16).padStart(8, '0')}${printable(magic)} (expected "msnb"): the peer does not speak this protocol`,
      );
    }
    const version = buf[offset + HeaderOffset.Version];
    if (version !== PROTOCOL_VERSION) {
      throw new FrameDecodeError(`Unsupported protocol version ${version} (supported: ${PROTOCOL_VERSION})`);
    }
    const length = buf.readUInt32BE(offset + HeaderOffset.Length);
    if (length < HEADER_SIZE) {
      throw new FrameDecodeError(`Frame length ${length} is below the header size ${HEADER_SIZE}`);
    }
    if (length > this.maxFrameSize) {
      throw new FrameTooLargeError(length, this.maxFrameSize);
    }
    const type = buf[offset + HeaderOffset.Type];
    if (!isMessageType(type)) throw new FrameDecodeError(`Unknown message type ${type}`);
    const codec = buf[offset + HeaderOffset.Codec];
    if (!isCodecId(codec)) throw new FrameDecodeError(`Unknown codec id ${codec}`);
    const compression = buf[offset + HeaderOffset.Compression];
    if (!isCompressionId(compression)) throw new FrameDecodeError(`Unknown compression id ${compression}`);
    return length;
  }
}

/**
 * The magic as text when all four bytes are printable ASCII (` ("HTTP")` for a web server), so
 * that a client pointed at the wrong port says so; empty otherwise (nothing odd reaches a log).
 */
function printable(magic: number): string {
  let text = '';
  for (let shift = 24; shift >= 0; shift -= 8) {
    const byte = (magic >>> shift) & 0xff;
    if (byte < 0x20 || byte > 0x7e || byte === 0x22 || byte === 0x5c) return '';
    text += String.fromCharCode(byte);
  }
  return ` ("${text}")`;
}
