import { connect, type Socket } from 'node:net';
import { encodeFrames, FrameSplitter, ID_BYTES, LENGTH_BYTES, type BodyEncoding, type OutgoingFrame } from '../raw-frames.js';
import type { EchoClient } from './echo-client.js';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** What a raw baseline puts in a request body and reads back out of an answer frame. */
export interface RawBodyCodec {
  /** Name for errors ("raw-net connection closed"). */
  readonly name: string;
  readonly encoding: BodyEncoding;
  /** The request body for one echo of `payload`. */
  request(payload: string): string;
  /** The echoed value, from a whole answer frame (`[length][id][body]`). */
  answer(frame: Buffer): unknown;
}

/**
 * The raw baselines' client: length-prefixed frames multiplexed by request id over one socket.
 * Requests issued in the same tick are written with one syscall (a transport can reasonably do
 * this too), so the framing costs close to what loopback TCP allows; the body codec decides what
 * else a call costs (nothing for raw-net, JSON both ways for raw-json).
 */
export function createRawFramedClient(port: number, codec: RawBodyCodec): EchoClient {
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
    socket.write(encodeFrames(frames, codec.encoding));
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
    let value: unknown;
    try {
      value = codec.answer(frame);
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    p.resolve(value);
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
        s.on('close', () => failAll(new Error(`${codec.name} connection closed`)));
      }),
    echo: (payload) =>
      new Promise<unknown>((resolve, reject) => {
        if (!socket) return reject(new Error(`${codec.name} client not connected`));
        const id = nextId;
        nextId = nextId === 0xffffffff ? 1 : nextId + 1;
        pending.set(id, { resolve, reject });
        outbox.push({ id, payload: codec.request(payload) });
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

/** Where an answer frame's body starts. */
export const BODY_OFFSET = LENGTH_BYTES + ID_BYTES;
