import { createServer, type AddressInfo, type Socket } from 'node:net';
import { HEADER_SIZE, MAGIC, MessageType, PROTOCOL_VERSION } from '../../lib/protocol/frame-header.js';

/**
 * A TCP server that accepts and then never reads nor answers. With `sendHello` it first writes
 * one Hello frame (as a real provider does right after accept) and then goes silent: a provider
 * that hung just after accepting. Without it, it is an address that never completes a handshake.
 */
export interface BlackHole {
  readonly port: number;
  readonly sockets: ReadonlySet<Socket>;
  /** Sockets accepted so far (including closed ones). */
  accepted(): number;
  close(): Promise<void>;
}

/** `port`: a fixed port, e.g. that of a server it replaces (default 0, a free one). */
export async function startBlackHole(options: { sendHello?: boolean; idleTimeoutMs?: number; port?: number } = {}): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.pause();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (options.sendHello) socket.write(helloFrame(options.idleTimeoutMs ?? 0));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A Hello frame, JSON codec, built by hand so the black hole does not depend on the codec under test. */
export function helloFrame(idleTimeoutMs: number, maxFrameSize = 8 * 1024 * 1024): Buffer {
  const body = Buffer.from(JSON.stringify({ idleTimeoutMs, maxFrameSize }), 'utf8');
  const frame = Buffer.alloc(HEADER_SIZE + body.length);
  frame.writeUInt32BE(MAGIC, 0);
  frame[4] = PROTOCOL_VERSION;
  frame.writeUInt32BE(frame.length, 5);
  frame[9] = MessageType.Hello;
  frame[10] = 1; // JSON
  frame[11] = 0; // no compression
  frame.writeUInt32BE(0, 12);
  body.copy(frame, HEADER_SIZE);
  return frame;
}
