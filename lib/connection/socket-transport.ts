import type { Socket } from 'node:net';
import type { Clock } from '../common/clock.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { MsRpcError } from '../errors/ms-rpc-error.js';
import { WriteStall, WriteQueue } from '../liveness/write-stall.js';
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

/** The early flush never splits a burst finer than this (about 4 small frames). */
const MIN_FLUSH_BYTES = 320;

/**
 * How many queued bytes of small frames are written at once after a read, from the size of the
 * chunk read: the first quarter of what a read sets off (the answers to its requests, or the
 * calls its answers release) goes out early, so the peer works on it while this side produces
 * the rest, and the two processes run side by side instead of taking turns. At 16 calls in
 * flight (bursts of about 1 KiB, below FLUSH_BYTES) one write per burst made the client and the
 * server alternate: 64 B x16 went from 0.7x to 1.6x raw-json's rate (bench/PROFILE.md, sixth
 * pass). A single frame (one call in flight) is never split off, and large bursts keep
 * FLUSH_BYTES. Only the first part is cut this fine: after an early write the rest waits for
 * FLUSH_BYTES or the end of the tick (see SocketTransport.flushNow).
 */
export function adaptiveFlushBytes(readBytes: number): number {
  return Math.min(FLUSH_BYTES, Math.max(MIN_FLUSH_BYTES, readBytes >>> 2));
}

/**
 * Whether a frame of `size` bytes may queue behind `unsent` bytes under `limit`: not when it would
 * take them over it, unless nothing is unsent (a frame larger than the limit goes alone).
 */
export function fitsUnder(size: number, unsent: number, limit: number): boolean {
  return unsent === 0 || unsent + size <= limit;
}

/** Cutting a peer that stopped reading: see {@link SocketTransport}. */
export interface WriteStallSettings {
  /** Over `maxWriteBuffer` with no byte flushed for this long (ms), the connection is cut. */
  timeoutMs: number;
  clock: Clock;
}

/**
 * One socket, framed: decodes incoming chunks into messages and batches outgoing frames.
 * Frames queued in the same tick (one socket callback, e.g. the frames decoded from one read,
 * and the microtasks it caused: handlers and their answers) leave together, in one write
 * syscall, at the end of the tick, or as soon as a part of the burst worth a write is queued
 * (see adaptiveFlushBytes).
 * One-shot: once closed it never comes back; reconnecting means a new transport on a new socket.
 *
 * Backpressure: the transport counts its unsent bytes (queued here and in the socket) and lets
 * its owner decide per frame ({@link hasRoomFor}): a call or stream that would take them over
 * `maxWriteBuffer` fails alone while the connection goes on. The connection itself is cut only
 * for a peer that stopped reading altogether: once backpressure engaged (a frame refused, or the
 * limit passed), not one byte flushed for the stall timeout while bytes wait (when configured;
 * a client's heartbeat finds such a peer), or twice the limit plus a frame queued anyway (small
 * frames no owner refuses: pongs, error replies, from a peer that keeps sending).
 */
export class SocketTransport implements WriteQueue {
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
  /** Queued small frames past this many bytes are written at once (see adaptiveFlushBytes). */
  private flushBytes = FLUSH_BYTES;
  /** Bytes ever queued: the end offset of the last frame in the connection's outgoing byte stream. */
  private accepted = 0;
  /** Watches a queue over its limit; created the first time it is (most connections never are). */
  private stall: WriteStall | undefined;
  activity: ActivitySink | undefined;

  constructor(
    readonly socket: Socket,
    private readonly codec: MessageCodec,
    private readonly listener: TransportListener,
    readonly address: string,
    /** Unsent bytes the owner lets calls queue (see {@link hasRoomFor}). */
    readonly maxWriteBuffer: number,
    private readonly stallSettings?: WriteStallSettings,
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

  /** Bytes queued and not yet handed to the kernel (here and in the socket's buffer). */
  get unsentBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  /** Bytes handed to the kernel so far: a frame queued when {@link queuedTotal} was N has left once this reaches N. */
  flushedBytes(): number {
    return this.accepted - this.unsentBytes;
  }

  /** Bytes ever queued: after a write, the offset where the frame written ends. */
  get queuedTotal(): number {
    return this.accepted;
  }

  /**
   * Whether a frame of `size` bytes fits under `limit` unsent bytes (`maxWriteBuffer` by default):
   * a frame is refused when it would take them over it, unless nothing is unsent (a frame larger
   * than the limit goes alone).
   */
  hasRoomFor(size: number, unsent = this.unsentBytes): boolean {
    if (fitsUnder(size, unsent, this.maxWriteBuffer)) return true;
    // What this tick queued may fit in the kernel: only what it refuses counts.
    if (this.flushQueued() && fitsUnder(size, this.unsentBytes, this.maxWriteBuffer)) return true;
    // Backpressure engaged: from here on, a peer that does not read at all is found and cut.
    this.watchStall();
    return false;
  }

  /**
   * Hands what is queued to the socket now rather than at the end of the tick. Returns whether
   * anything was queued. For backpressure decisions: bytes a burst queued within one tick are
   * not yet bytes the peer failed to read.
   */
  flushQueued(): boolean {
    if (this.queue === undefined || this.closed) return false;
    this.flush();
    return true;
  }

  /** WriteQueue: bytes still wait for the peer to read (the kernel's buffer is full). */
  overLimit(): boolean {
    return !this.closed && this.unsentBytes > 0;
  }

  /** WriteQueue: backed up and nothing left for `stalledMs`: the peer stopped reading. */
  stalled(stalledMs: number): void {
    this.destroy(
      new ConnectionClosedError(
        this.address,
        `peer is not reading: ${this.unsentBytes} bytes queued (maxWriteBuffer ${this.maxWriteBuffer}) and none flushed for ${stalledMs} ms`,
      ),
    );
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
    this.accepted += frame.length;
    if (frame.length >= FLUSH_BYTES) this.queuedLarge = true;
    else if (this.queuedBytes >= this.flushBytes && !this.queuedLarge) return this.flushNow();
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

  /**
   * Writes what is queued now (flushBytes of small frames are waiting). The peer has work now:
   * the rest of this burst waits for FLUSH_BYTES or the end of the tick. Cutting all of it into
   * quarters fed back on itself (small writes, small reads, smaller writes): at 128 calls in
   * flight about 13 small frames a write, and 8 % less throughput (bench/PROFILE.md, sixth pass).
   */
  private flushNow(): boolean {
    this.flushBytes = FLUSH_BYTES;
    this.flush();
    return this.checkWriteBuffer();
  }

  /**
   * Over `maxWriteBuffer`: watches for a stalled peer. Past twice the limit plus a frame (only
   * small frames nobody refuses can get there: a peer that keeps sending and never reads), cuts
   * at once: nothing queues without a bound.
   */
  private checkWriteBuffer(): boolean {
    const unsent = this.queuedBytes + this.socket.writableLength;
    if (unsent <= this.maxWriteBuffer) return true;
    if (unsent > 2 * this.maxWriteBuffer + this.codec.maxFrameSize) {
      this.destroy(
        new ConnectionClosedError(
          this.address,
          `peer is not reading: ${unsent} bytes queued (maxWriteBuffer ${this.maxWriteBuffer}, cut at twice that plus a frame)`,
        ),
      );
      return false;
    }
    this.watchStall();
    return true;
  }

  private watchStall(): void {
    const settings = this.stallSettings;
    if (settings !== undefined && settings.timeoutMs > 0 && !this.closed) {
      (this.stall ??= new WriteStall(settings.timeoutMs, settings.clock, this)).arm();
    }
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
    // Nothing more of what was read is delivered: frames after the one that made us close (a
    // protocol violation) in the same chunk are dropped, not dispatched.
    this.decoder.reset(error);
    this.stall?.stop();
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
    if (this.closed || this.socket.destroyed) return;
    this.flushBytes = adaptiveFlushBytes(chunk.length);
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
    this.stall?.stop();
    this.listener.onClose(this.closeError);
  }
}
