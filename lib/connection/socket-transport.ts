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

/** Where a socket's transport is found by the shared socket listeners. */
const TRANSPORT = Symbol('SocketTransport');
type TransportSocket = Socket & { [TRANSPORT]: SocketTransport };

/** Activity hooks (heartbeats, idle and frame deadlines) fed per chunk / per write, without timers of their own. */
export interface ActivitySink {
  markRead(): void;
  markWrite(): void;
  /** After a chunk's frames were delivered: deadlines on the frame still incomplete (FrameDeadline). */
  afterRead?(): void;
}

/**
 * Queued bytes that are written at once instead of waiting for the end of the tick, so the
 * peer starts decoding the first answers of a burst while later ones are still being produced:
 * with the whole burst in one write the two processes took turns (each idle while the other
 * worked), which halved throughput at 128 calls in flight. Smaller means more write syscalls;
 * 4 KiB (about 45 small frames) measured best between 2 and 16 KiB (bench/PROFILE.md).
 * A frame this large is not copied together with others: the large frames produced by the same
 * burst of microtasks (answers to the requests of one read) leave together in one writev.
 */
const FLUSH_BYTES = 4 * 1024;

/**
 * One socket, framed: decodes incoming chunks into messages and batches outgoing frames.
 * Frames queued in the same tick (one socket callback, e.g. the frames decoded from one read,
 * and the microtasks it caused: handlers and their answers) leave together, in one write
 * syscall, at the end of the tick, or as soon as FLUSH_BYTES of small frames are queued.
 * One-shot: once closed it never comes back; reconnecting means a new transport on a new socket.
 */
export class SocketTransport {
  private readonly decoder: FrameDecoder;
  /** Frames waiting for the flush, in order, and their total size; undefined while empty. */
  private queue: Buffer[] | undefined;
  private queuedBytes = 0;
  /** The queue holds a frame too large to be worth copying into one buffer with the others. */
  private queuedLarge = false;
  private flushScheduled = false;
  private closed = false;
  /** end() was called: nothing more is written, the socket closes once the peer ends too. */
  private ended = false;
  private closeError: Error | undefined;
  /** Frames decoded so far (well-formed or not): tells a new incomplete frame from the same one. */
  private framesIn = 0;
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
    // Shared listeners that find this transport on the socket, rather than three closures per
    // connection: an idle server connection costs heap, and there may be tens of thousands.
    (socket as TransportSocket)[TRANSPORT] = this;
    socket.on('data', SocketTransport.onSocketData);
    socket.on('error', SocketTransport.onSocketError);
    socket.on('close', SocketTransport.onSocketClose);
  }

  private static onSocketData(this: Socket, chunk: Buffer): void {
    (this as TransportSocket)[TRANSPORT].onData(chunk);
  }

  private static onSocketError(this: Socket, err: Error): void {
    (this as TransportSocket)[TRANSPORT].fail(err);
  }

  private static onSocketClose(this: Socket): void {
    (this as TransportSocket)[TRANSPORT].finish();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Bytes received of a frame that is not complete yet. */
  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  get framesReceived(): number {
    return this.framesIn;
  }

  /** Encodes and queues a message. Throws FrameTooLargeError (nothing sent) for oversized ones. */
  send(message: Message, codec?: CodecId): boolean {
    if (this.closed) return false;
    return this.write(this.codec.encode(message, codec));
  }

  /** Queues an already-encoded frame. */
  write(frame: Buffer): boolean {
    // After end() the socket only waits for the peer's FIN: a late heartbeat ping must not turn a
    // clean close into a write-after-end error.
    if (this.closed || this.ended) return false;
    (this.queue ??= []).push(frame);
    this.queuedBytes += frame.length;
    if (frame.length >= FLUSH_BYTES) this.queuedLarge = true;
    else if (this.queuedBytes >= FLUSH_BYTES && !this.queuedLarge) return this.flushNow();
    if (!this.flushScheduled) {
      // A tick queued from a microtask runs once the microtask queue is drained: the answers
      // that handlers produce in microtasks (Nest's are async) all go out in one write. A
      // setImmediate (the check phase) batched no more per socket, and cost 2-3 µs of CPU per
      // call on each side at one call in flight.
      this.flushScheduled = true;
      process.nextTick(SocketTransport.scheduledFlush, this);
    }
    return this.checkWriteBuffer();
  }

  /** Writes what is queued now (FLUSH_BYTES of small frames are waiting). */
  private flushNow(): boolean {
    this.flush();
    return this.checkWriteBuffer();
  }

  /** Cuts a peer that does not read (`maxWriteBuffer`). */
  private checkWriteBuffer(): boolean {
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
    if (this.closed || this.ended) return;
    this.ended = true;
    this.flush();
    this.socket.end();
  }

  /** Closes now; `error` is reported to the listener as the reason. */
  destroy(error?: Error): void {
    if (this.closed) return;
    if (error && !this.closeError) this.closeError = error;
    this.queue = undefined;
    this.queuedBytes = 0;
    this.queuedLarge = false;
    this.socket.destroy();
  }

  // Static with the transport as argument: no flush closure per connection.
  private static scheduledFlush(transport: SocketTransport): void {
    transport.flushScheduled = false;
    transport.flush();
  }

  /** Hands the queued frames to the socket in one write syscall. */
  private flush(): void {
    const queue = this.queue;
    if (queue === undefined) return;
    const bytes = this.queuedBytes;
    const large = this.queuedLarge;
    this.queue = undefined;
    this.queuedBytes = 0;
    this.queuedLarge = false;
    if (this.socket.destroyed) return;
    if (!large) {
      // Small frames: copying them into one buffer is cheaper than a write request per frame.
      this.socket.write(queue.length === 1 ? queue[0] : Buffer.concat(queue, bytes));
    } else {
      // Large frames go as they are, gathered by one writev, and go back to the codec's pool
      // once written (the callback runs when libuv is done with the bytes, or with an error
      // when the socket was destroyed first: either way nothing reads them any more).
      this.socket.cork();
      for (const frame of queue) {
        if (frame.length >= FLUSH_BYTES) this.socket.write(frame, () => this.codec.releaseFrame(frame));
        else this.socket.write(frame);
      }
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
      return;
    }
    if (!this.socket.destroyed) this.activity?.afterRead?.();
  }

  private onFrame(frame: Frame): void {
    this.framesIn++;
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
