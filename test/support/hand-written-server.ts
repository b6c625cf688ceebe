import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import type { HelloSettings, Message } from '../../lib/protocol/message.js';
import { MessageCodec } from '../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../lib/protocol/protocol-options.js';

/** What a hand-written server is told of each message, and how it answers. */
export type HandWrittenHandler = (message: Message, frameType: MessageType, reply: (answer: Message) => void) => void;

/**
 * A server speaking the wire protocol by hand, as another (older or newer) version would: says
 * `hello` on accept, then hands every decoded message, with the type its frame had on the wire, to
 * `onMessage`. Answers pings itself.
 */
export async function startHandWrittenServer(
  hello: HelloSettings,
  onMessage: HandWrittenHandler,
): Promise<{ port: number; close(): Promise<void> }> {
  const codec = new MessageCodec(resolveProtocolOptions({}));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reply = (answer: Message) => socket.write(codec.encode(answer));
    reply({ type: MessageType.Hello, settings: hello });
    const decoder = new FrameDecoder(codec.maxFrameSize);
    socket.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (frame) => {
        const message = codec.decode(frame);
        if (message.type === MessageType.Ping) reply({ type: MessageType.Pong, requestId: message.requestId });
        else onMessage(message, frame.type, reply);
      }),
    );
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
