/**
 * In-memory providers for the large-service rows (no sockets, no syscalls): a SocketFactory whose
 * sockets are Duplex streams with an echo provider on the other end. The provider speaks the real
 * protocol through the library's own codec: its Hello on "connect" (with the patterns it serves),
 * an End with the request's data for every request, a Pong for every Ping. It counts what the
 * client opened, per address, which is what the lazy-connection row reports.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { SocketFactory } from '../../lib/connection/connect-attempt.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';

/** What the provider at an address serves (its Hello says so, as MsRpcServer's does). */
export type ServedBy = (address: string) => { patterns: string[]; events: string[] };

export class MemoryProviders {
  /** Sockets opened per address (a reconnect counts again). */
  readonly opened = new Map<string, number>();
  /** Addresses whose connects are refused (ECONNREFUSED), as a provider that is down. */
  readonly down = new Set<string>();
  private readonly codec = new MessageCodec(resolveProtocolOptions({}));
  private readonly live = new Set<MemorySocket>();

  constructor(private readonly servedBy: ServedBy) {}

  readonly factory: SocketFactory = (host, port) => {
    const address = `${host}:${port}`;
    this.opened.set(address, (this.opened.get(address) ?? 0) + 1);
    const socket = new MemorySocket(this.codec, this.servedBy(address), this.down.has(address), () => this.live.delete(socket));
    this.live.add(socket);
    return socket as unknown as Socket;
  };

  /** Distinct addresses the client opened a socket to. */
  get addressesOpened(): number {
    return this.opened.size;
  }

  get socketsOpened(): number {
    let n = 0;
    for (const count of this.opened.values()) n += count;
    return n;
  }

  /** Sockets still open. */
  get open(): number {
    return this.live.size;
  }

  destroyAll(): void {
    for (const socket of [...this.live]) socket.destroy();
  }
}

/** The client's end of one in-memory connection; the provider's end is this object's methods. */
class MemorySocket extends Duplex {
  /** As net.Socket: true until "connected" (the handshake waits for 'connect' while it is). */
  pending = true;
  private readonly decoder: FrameDecoder;

  constructor(
    private readonly codec: MessageCodec,
    served: { patterns: string[]; events: string[] },
    refused: boolean,
    onGone: () => void,
  ) {
    super({ allowHalfOpen: false });
    this.decoder = new FrameDecoder(codec.maxFrameSize);
    this.once('close', onGone);
    process.nextTick(() => {
      if (this.destroyed) return;
      if (refused) {
        this.destroy(Object.assign(new Error('connect ECONNREFUSED (in-memory provider down)'), { code: 'ECONNREFUSED' }));
        return;
      }
      this.pending = false;
      this.emit('connect');
      // A provider says Hello on accept.
      this.answer({
        type: MessageType.Hello,
        settings: { idleTimeoutMs: 60_000, maxFrameSize: codec.maxFrameSize, patterns: served.patterns, events: served.events },
      });
    });
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  override _read(): void {
    // Frames are pushed as the provider produces them.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.decoder.push(chunk, (frame) => {
        const message = this.codec.decode(frame);
        if (message.type === MessageType.Request) {
          this.answer({ type: MessageType.End, requestId: message.requestId, hasData: true, data: message.data });
        } else if (message.type === MessageType.Ping) {
          this.answer({ type: MessageType.Pong, requestId: message.requestId });
        }
      });
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _final(callback: () => void): void {
    // The client ended its side: the provider ends too (a real server closes on the client's FIN).
    this.push(null);
    callback();
  }

  private answer(message: Parameters<MessageCodec['encode']>[0]): void {
    const frame = this.codec.encode(message);
    // Asynchronously, as an answer over a socket would arrive: never inside the client's write.
    setImmediate(() => {
      if (!this.destroyed) this.push(frame);
    });
  }
}
