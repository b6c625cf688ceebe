import type { Socket } from 'node:net';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { Frame, CodecId } from '../protocol/frame-header.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { Message } from '../protocol/message.js';
import { MessageCodec } from '../protocol/message-codec.js';

/** What a transport reports upward. Called synchronously from socket events. */
export interface TransportListener {
  /** A well-formed message. `codec` is the codec the peer used (answer in kind). */
  onMessage(message: Message, codec: CodecId): void;
  /**
   * A frame whose header was valid but whose body could not be decoded. Framing is intact,
   * so the connection survives; the owner answers or fails the call for `frame.requestId`.
   */
  onBadFrame(frame: Frame, error: MsRpcError): void;
  /** Called exactly once, when the socket is gone; `error` is why (undefined = clean end). */
  onClose(error: Error | undefined): void;
}

/** Activity hooks (an IdleMonitor) fed per chunk / per write without timers of their own. */
export interface ActivitySink {
  markRead(): void;
  markWrite(): void;
}

/**
 * Queued bytes that are written at once instead of waiting for the end of the I/O turn, so the
 * peer starts decoding the first answers of a burst while later ones are still being produced:
 * with the whole burst in one write the two processes took turns (each idle while the other
 * worked), which halved throughput at 128 calls in flight. Smaller means more write syscalls;
 * 4 KiB (about 45 small frames) measured best between 2 and 16 KiB (bench/PROFILE.md).
 * A frame this large is not copied together with others, and is written at the end of the
 * current tick: the other large frames produced by the same burst of microtasks (answers to
 * the requests of one read) join it in one writev.
 */
const FLUSH_BYTES = 4 * 1024;

/**
 * One socket, framed: decodes incoming chunks into messages and batches outgoing frames.
 * Small frames queued in the same I/O turn leave together, in one write syscall, at the end of
 * the turn or as soon as FLUSH_BYTES are queued; a large frame leaves at the end of the current
 * tick. One-shot: once closed it never comes back; reconnecting means a new transport on a new
 * socket.
 */
export class SocketTransport {
  private readonly decoder: FrameDecoder;
  /** Frames waiting for the flush, in order, and their total size. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** The queue holds a frame too large to be worth copying into one buffer with the others. */
  private queuedLarge = false;
  private flushScheduled = false;
  private tickFlushScheduled = false;
  private closed = false;
  private closeError: Error | undefined;
  activity: ActivitySink | undefined;

  constructor(
    readonly socket: Socket,
    private readonly codec: MessageCodec,
    private readonly listener: TransportListener,
    readonly address: string,
    /** Above this many unsent bytes the peer is not reading: the connection is cut. */
    private readonly maxWriteBuffer: number,
  ) {
    this.decoder = new FrameDecoder(codec.maxFrameSize);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.finish());
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Encodes and queues a message. Throws FrameTooLargeError (nothing sent) for oversized ones. */
  send(message: Message, codec?: CodecId): boolean {
    if (this.closed) return false;
    return this.write(this.codec.encode(message, codec));
  }

  /** Queues an already-encoded frame. */
  write(frame: Buffer): boolean {
    if (this.closed) return false;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    if (frame.length >= FLUSH_BYTES) {
      this.queuedLarge = true;
      if (!this.tickFlushScheduled) {
        this.tickFlushScheduled = true;
        process.nextTick(this.tickFlush);
      }
    } else if (this.queuedBytes >= FLUSH_BYTES) {
      this.flush();
    } else if (!this.flushScheduled) {
      // Flush in the check phase, after every callback of this I/O turn (all frames decoded
      // from one read, their handlers and microtasks) has queued its writes.
      this.flushScheduled = true;
      setImmediate(this.scheduledFlush);
    }
    if (this.socket.writableLength + this.queuedBytes > this.maxWriteBuffer) {
      this.destroy(
        new ConnectionClosedError(
          this.address,
          `peer is not reading: ${this.socket.writableLength + this.queuedBytes} bytes queued (limit ${this.maxWriteBuffer})`,
        ),
      );
      return false;
    }
    return true;
  }

  /** Flushes what is queued, then closes gracefully. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end();
  }

  /** Closes now; `error` is reported to the listener as the reason. */
  destroy(error?: Error): void {
    if (this.closed) return;
    if (error && !this.closeError) this.closeError = error;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedLarge = false;
    this.socket.destroy();
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private readonly tickFlush = (): void => {
    this.tickFlushScheduled = false;
    this.flush();
  };

  /** Hands the queued frames to the socket in one write syscall. */
  private flush(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    const bytes = this.queuedBytes;
    const large = this.queuedLarge;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedLarge = false;
    if (this.socket.destroyed) return;
    if (queue.length === 1) {
      this.socket.write(queue[0]);
    } else if (!large) {
      // Small frames: copying them into one buffer is cheaper than a write request per frame.
      this.socket.write(Buffer.concat(queue, bytes));
    } else {
      // Large frames go as they are, gathered by one writev.
      this.socket.cork();
      for (const frame of queue) this.socket.write(frame);
      this.socket.uncork();
    }
    this.activity?.markWrite();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.activity?.markRead();
    try {
      this.decoder.push(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      // Framing is lost: nothing after this point can be trusted. Close this connection only.
      this.destroy(err instanceof Error ? err : new FrameDecodeError(String(err)));
    }
  }

  private onFrame(frame: Frame): void {
    let message: Message;
    try {
      message = this.codec.decode(frame);
    } catch (err) {
      this.listener.onBadFrame(frame, err as MsRpcError);
      return;
    }
    this.listener.onMessage(message, frame.codec);
  }

  private fail(err: Error): void {
    if (!this.closeError) this.closeError = err;
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.decoder.reset();
    this.listener.onClose(this.closeError);
  }
}
