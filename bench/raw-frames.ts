/**
 * Framing shared by the raw-net baseline's client and server:
 * `[u32 BE length of the rest][u32 BE request id][payload bytes]`.
 */

export const LENGTH_BYTES = 4;
export const ID_BYTES = 4;

export interface OutgoingFrame {
  readonly id: number;
  readonly payload: string;
}

/** Encodes a batch of requests into one buffer (one allocation, one write). */
export function encodeFrames(frames: readonly OutgoingFrame[]): Buffer {
  let total = 0;
  for (const f of frames) total += LENGTH_BYTES + ID_BYTES + f.payload.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const f of frames) {
    // latin1: one byte per char, and the payloads are ASCII.
    out.writeUInt32BE(ID_BYTES + f.payload.length, offset);
    out.writeUInt32BE(f.id, offset + LENGTH_BYTES);
    offset += LENGTH_BYTES + ID_BYTES;
    offset += out.write(f.payload, offset, 'latin1');
  }
  return out;
}

/**
 * Splits a byte stream into whole frames. Keeps at most one partial frame between chunks;
 * the frames handed to `onFrame` are views into the received chunks (Node never reuses them).
 */
export class FrameSplitter {
  private pending: Buffer | null = null;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let offset = 0;
    while (buf.length - offset >= LENGTH_BYTES) {
      const frameLength = LENGTH_BYTES + buf.readUInt32BE(offset);
      if (buf.length - offset < frameLength) break;
      this.onFrame(buf.subarray(offset, offset + frameLength));
      offset += frameLength;
    }
    if (offset < buf.length) this.pending = buf.subarray(offset);
  }
}
