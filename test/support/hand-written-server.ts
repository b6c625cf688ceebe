import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import type { HelloSettings, Message } from '../../lib/protocol/message.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';

/**
 * What a hand-written server is told of each message, and how it answers: `reply` writes a frame,
 * `end` writes a last one and closes its side.
 */
export type HandWrittenHandler = (
  message: Message,
  frameType: MessageType,
  reply: (answer: Message) => void,
  end: (last: Message) => void,
) => void;

/**
 * A server speaking the wire protocol by hand, as another (older or newer) version, or something
 * that is not a provider at all, would: says `hello` on accept (undefined: says nothing first and
 * leaves answering the client's Hello to `onMessage`), then hands every decoded message, with the
 * type its frame had on the wire, to `onMessage`. Answers pings itself; closes a socket whose
 * bytes do not decode.
 */
export async function startHandWrittenServer(
  hello: HelloSettings | undefined,
  onMessage: HandWrittenHandler,
): Promise<{ port: number; close(): Promise<void> }> {
  const codec = new MessageCodec(resolveProtocolOptions({}));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reply = (answer: Message) => socket.write(codec.encode(answer));
    const end = (last: Message) => socket.end(codec.encode(last));
    if (hello !== undefined) reply({ type: MessageType.Hello, settings: hello });
    const decoder = new FrameDecoder(codec.maxFrameSize);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (frame) => {
          const message = codec.decode(frame);
          if (message.type === MessageType.Ping) reply({ type: MessageType.Pong, requestId: message.requestId });
          else onMessage(message, frame.type, reply, end);
        });
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
