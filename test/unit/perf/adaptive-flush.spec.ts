import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { adaptiveFlushBytes, SocketTransport, type TransportListener } from '../../../lib/connection/socket-transport.js';
import { MessageType } from '../../../lib/protocol/frame-header.js';
import type { Message } from '../../../lib/protocol/message.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../../lib/protocol/protocol-options.js';

/**
 * The early flush follows what a read sets off (issue 19: 64 B x16 lost to raw-json because each
 * side wrote a whole burst at the end of its tick and the two processes took turns).
 */
describe('adaptive early flush', () => {
  it('sends the first quarter of what a read sets off early, never less than 320 B, never more than 4 KiB', () => {
    expect(adaptiveFlushBytes(80)).toBe(320);
    expect(adaptiveFlushBytes(1300)).toBe(325);
    expect(adaptiveFlushBytes(10 * 1024)).toBe(2560);
    expect(adaptiveFlushBytes(64 * 1024)).toBe(4096);
  });

  describe('on a socket', () => {
    let server: Server | undefined;
    const sockets: Socket[] = [];
    afterEach(async () => {
      for (const s of sockets.splice(0)) s.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    });

    /** A transport on one end of a loopback pair; `peer` is the other end, reading raw bytes. */
    async function pair(onMessage: (transport: SocketTransport, m: Message) => void) {
      const codec = new MessageCodec(resolveProtocolOptions({}));
      const accepted = new Promise<Socket>((resolve) => {
        server = createServer(resolve);
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const peer = connect((server!.address() as AddressInfo).port, '127.0.0.1');
      const socket = await accepted;
      sockets.push(peer, socket);
      let transport!: SocketTransport;
      const listener: TransportListener = {
        onMessage: (m) => onMessage(transport, m),
        onBadFrame: () => undefined,
        onClose: () => undefined,
      };
      transport = new SocketTransport(socket, codec, listener, 'test', 64 * 1024 * 1024);
      const writes: number[] = [];
      const write = socket.write.bind(socket);
      socket.write = ((chunk: Buffer, ...rest: never[]) => {
        writes.push(chunk.length);
        return write(chunk, ...rest);
      }) as typeof socket.write;
      return { codec, peer, writes };
    }

    it('a read of 16 small requests is answered in two writes (its first part early), in order; one request in one write', async () => {
      const answered: number[] = [];
      const { codec, peer, writes } = await pair((transport, m) => {
        if (m.type !== MessageType.Request) return;
        transport.send({ type: MessageType.End, requestId: m.requestId, hasData: true, data: 'x'.repeat(40) });
      });
      const received = new Promise<void>((resolve) => {
        let bytes = Buffer.alloc(0);
        peer.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          while (bytes.length >= 16 && bytes.length >= bytes.readUInt32BE(5)) {
            answered.push(bytes.readUInt32BE(12));
            bytes = bytes.subarray(bytes.readUInt32BE(5));
          }
          if (answered.length === 17) resolve();
        });
      });
      const request = (id: number) => codec.encode({ type: MessageType.Request, requestId: id, pattern: 'echo', data: 'y'.repeat(40) });
      peer.write(Buffer.concat(Array.from({ length: 16 }, (_, i) => request(i + 1))));
      // Let the 16 be read and answered, then one more on its own.
      await new Promise((r) => setTimeout(r, 50));
      const burstWrites = writes.length;
      peer.write(request(17));
      await received;
      expect(answered).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
      // The first quarter of the burst leaves early, the rest together at the end of the tick
      // (not in quarters too: that fed back into ever smaller writes at high concurrency).
      expect(burstWrites).toBe(2);
      expect(writes[0]).toBeGreaterThanOrEqual(adaptiveFlushBytes(writes[0] + writes[1]));
      expect(writes[0]).toBeLessThan(writes[1]);
      expect(writes.length - burstWrites).toBe(1);
    });
  });
});
