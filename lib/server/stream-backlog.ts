/**
 * The unsent bytes of one response stream. A connection's transport writes its frames in order,
 * so a frame has left once the transport's flushed-byte count passed the offset where it ends:
 * the stream keeps the end offset and size of each of its frames still queued, and drops those
 * behind the flushed count when asked. Only streams that sent a value have one; a unary answer
 * is a single frame and is bounded by the frame size.
 */
export class StreamBacklog {
  /** Pairs (end offset, size) of the frames still queued, oldest first, from `head`. */
  private frames: number[] = [];
  private head = 0;
  private bytes = 0;

  /** A frame of `size` bytes was queued, ending at `endOffset` of the connection's byte stream. */
  add(endOffset: number, size: number): void {
    this.frames.push(endOffset, size);
    this.bytes += size;
  }

  /** This stream's bytes not yet handed to the kernel, once `flushed` bytes of the connection were. */
  unsent(flushed: number): number {
    const frames = this.frames;
    let head = this.head;
    while (head < frames.length && frames[head]! <= flushed) {
      this.bytes -= frames[head + 1]!;
      head += 2;
    }
    if (head === frames.length) {
      this.frames = [];
      head = 0;
    } else if (head > 1024) {
      this.frames = frames.slice(head);
      head = 0;
    }
    this.head = head;
    return this.bytes;
  }
}
