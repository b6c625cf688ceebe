import { createServer, type AddressInfo, type Socket } from 'node:net';
import { FrameSplitter } from '../raw-frames.js';
import { runServerProcess } from './server-process.js';

/**
 * A raw baseline's server process: length-prefixed frames in, `answer(frame, socket)` for each;
 * frames decoded from one chunk are answered inside one cork, so they go out in one writev.
 */
export function runRawFramedServer(answer: (frame: Buffer, socket: Socket) => void): void {
  runServerProcess(
    () =>
      new Promise((resolve, reject) => {
        const sockets = new Set<Socket>();
        const server = createServer({ noDelay: true }, (socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => socket.destroy());
          const splitter = new FrameSplitter((frame) => answer(frame, socket));
          socket.on('data', (chunk: Buffer) => {
            socket.cork();
            try {
              splitter.push(chunk);
            } catch {
              // A frame the baseline cannot answer is a bench bug: the client sees the close.
              socket.destroy();
            }
            socket.uncork();
          });
        });
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          resolve({
            port: (server.address() as AddressInfo).port,
            stats: () => ({ connections: sockets.size }),
            close: () =>
              new Promise<void>((done) => {
                for (const s of sockets) s.destroy();
                server.close(() => done());
              }),
          });
        });
      }),
  );
}
