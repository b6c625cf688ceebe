import { createServer, type AddressInfo, type Socket } from 'node:net';
import { FrameSplitter } from '../raw-frames.js';
import { runServerProcess } from './server-process.js';

/** Echoes every frame back unchanged; frames decoded from one chunk go out in one writev. */
runServerProcess(
  () =>
    new Promise((resolve, reject) => {
      const sockets = new Set<Socket>();
      const server = createServer({ noDelay: true }, (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        const splitter = new FrameSplitter((frame) => socket.write(frame));
        socket.on('data', (chunk: Buffer) => {
          socket.cork();
          splitter.push(chunk);
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
