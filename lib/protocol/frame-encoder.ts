import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { CodecId, CompressionId, HEADER_SIZE, MessageType, writeHeader } from './frame-header.js';

/**
 * Builds one frame as a single buffer (header and body contiguous), so a batch of frames
 * goes to the socket as one writev without per-frame header allocations.
 */
export function encodeFrame(
  type: MessageType,
  codec: CodecId,
  compression: CompressionId,
  requestId: number,
  body: Buffer | undefined,
  maxFrameSize: number,
): Buffer {
  const bodyLength = body ? body.length : 0;
  const total = HEADER_SIZE + bodyLength;
  if (total > maxFrameSize) {
    throw new FrameTooLargeError(total, maxFrameSize, 'Outgoing frame');
  }
  const frame = Buffer.allocUnsafe(total);
  writeHeader(frame, 0, type, codec, compression, requestId, bodyLength);
  if (body && bodyLength > 0) {
    body.copy(frame, HEADER_SIZE);
  }
  return frame;
}
