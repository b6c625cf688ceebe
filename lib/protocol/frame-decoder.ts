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
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Concatenate only once we can make progress: while a large body trickles in we just
      // collect chunk references instead of copying the growing buffer each time.
      const needed = this.expected > 0 ? this.expected : HEADER_SIZE;
      if (this.pendingBytes < needed) return;
      buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }

    let offset = 0;
    try {
      while (buf.length - offset >= HEADER_SIZE) {
        const length = this.expected > 0 ? this.expected : this.readHeader(buf, offset);
        if (buf.length - offset < length) {
          this.expected = length;
          break;
        }
        this.expected = 0;
        onFrame({
          type: buf[offset + HeaderOffset.Type],
          codec: buf[offset + HeaderOffset.Codec],
          compression: buf[offset + HeaderOffset.Compression],
          requestId: buf.readUInt32BE(offset + HeaderOffset.RequestId),
          // A view, not a copy: the body's consumer decodes it before the next chunk arrives,
          // and chunks from the socket are never reused by Node.
          body: buf.subarray(offset + HEADER_SIZE, offset + length),
        });
        offset += length;
      }
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
    if (offset < buf.length) {
      this.pending.push(offset === 0 ? buf : buf.subarray(offset));
      this.pendingBytes = buf.length - offset;
    }
  }

  /** Drops buffered bytes; the decoder accepts nothing afterwards. */
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
      throw new FrameDecodeError(`Bad magic 0x${magic.toString(16).padStart(8, '0')} (expected "msnb")`);
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
