import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import type { Message } from '../../lib/protocol/message.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';

/**
 * A client speaking the wire protocol by hand: writes frames it builds itself (including ones a
 * real client never sends) and decodes what the server answers. It can stop reading (`pause()`)
 * to play a slow or stalled client.
 */
export interface WirePeer {
  readonly socket: Socket;
  /** `ip:port` of this end, as the server names it in its logs. */
  readonly address: string;
  /** Every message received so far, in order. */
  readonly received: Message[];
  /** Resolves with the time (performance.now()) the socket closed. */
  readonly closed: Promise<number>;
  readonly codec: MessageCodec;
  /** Encodes and writes messages in one write (one chunk on the server's side, on loopback). */
  send(...messages: Message[]): void;
  /** Messages received for `requestId`. */
  answers(requestId: number): Message[];
  close(): void;
}

export async function wirePeer(port: number, options: { hello?: boolean } = {}): Promise<WirePeer> {
  const codec = new MessageCodec(resolveProtocolOptions());
  const decoder = new FrameDecoder(codec.maxFrameSize);
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const received: Message[] = [];
  socket.on('data', (chunk: Buffer) => {
    try {
      decoder.push(chunk, (frame) => received.push(codec.decode(frame)));
    } catch {
      socket.destroy();
    }
  });
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const peer: WirePeer = {
    socket,
    address: `127.0.0.1:${socket.localPort}`,
    received,
    closed,
    codec,
    send: (...messages) => socket.write(Buffer.concat(messages.map((m) => codec.encode(m)))),
    answers: (requestId) => received.filter((m) => 'requestId' in m && m.requestId === requestId && m.type !== MessageType.Pong),
    close: () => socket.destroy(),
  };
  if (options.hello !== false) peer.send({ type: MessageType.Hello, settings: { idleTimeoutMs: 0, maxFrameSize: codec.maxFrameSize } });
  return peer;
}
