import { connect, type Socket } from 'node:net';
import { encodeFrames, FrameSplitter, ID_BYTES, LENGTH_BYTES, type OutgoingFrame } from '../raw-frames.js';
import type { EchoClient } from './echo-client.js';

interface Pending {
  resolve(value: string): void;
  reject(err: Error): void;
}

/**
 * The physical-limit baseline: length-prefixed frames multiplexed by request id over one socket,
 * no serialization beyond latin1 bytes. Requests issued in the same tick are written with one
 * syscall (a transport can reasonably do this too), so this is close to what loopback TCP allows.
 */
export function createRawNetClient(port: number): EchoClient {
  let socket: Socket | null = null;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let outbox: OutgoingFrame[] = [];
  let flushScheduled = false;

  const flush = (): void => {
    flushScheduled = false;
    const frames = outbox;
    outbox = [];
    if (!socket) return;
    socket.write(encodeFrames(frames));
  };

  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const splitter = new FrameSplitter((frame) => {
    const id = frame.readUInt32BE(LENGTH_BYTES);
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.resolve(frame.toString('latin1', LENGTH_BYTES + ID_BYTES));
  });

  return {
    connect: () =>
      new Promise<void>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, noDelay: true });
        s.once('connect', () => {
          s.off('error', reject);
          s.on('error', (err) => failAll(err));
          socket = s;
          resolve();
        });
        s.once('error', reject);
        s.on('data', (chunk: Buffer) => splitter.push(chunk));
        s.on('close', () => failAll(new Error('raw-net connection closed')));
      }),
    echo: (payload) =>
      new Promise<string>((resolve, reject) => {
        if (!socket) return reject(new Error('raw-net client not connected'));
        const id = nextId;
        nextId = nextId === 0xffffffff ? 1 : nextId + 1;
        pending.set(id, { resolve, reject });
        outbox.push({ id, payload });
        if (!flushScheduled) {
          flushScheduled = true;
          queueMicrotask(flush);
        }
      }),
    close: () =>
      new Promise<void>((resolve) => {
        const s = socket;
        socket = null;
        if (!s || s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.end();
        setTimeout(() => s.destroy(), 1000).unref();
      }),
  };
}
