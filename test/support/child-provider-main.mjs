// A minimal provider speaking the ms-rpc wire protocol with raw frames, run as a CHILD PROCESS
// (plain node, no TypeScript, no Nest) so tests can SIGSTOP / SIGKILL it and restart it on the
// same port. It implements only what a client needs to see: Hello on accept, Pong for Ping,
// and a few request patterns answered with End frames (JSON codec, no compression).
//
// argv: [port, idleTimeoutMs]. Reports {type:'ready', port, pid} over IPC once listening and
// exits when the IPC channel drops (the parent test process died or disconnected).
import { createServer } from 'node:net';

const MAGIC = 0x6d736e62;
const VERSION = 1;
const HEADER = 16;
const T = { Request: 1, Response: 2, End: 3, Error: 4, Event: 5, Ping: 6, Pong: 7, Cancel: 8, GoAway: 9, Hello: 10 };
const JSON_CODEC = 1;
const MAX_FRAME = 8 * 1024 * 1024;

const port = Number(process.argv[2] ?? 0);
const idleTimeoutMs = Number(process.argv[3] ?? 0);

function frame(type, requestId, value) {
  const body = value === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out.writeUInt32BE(MAGIC, 0);
  out[4] = VERSION;
  out.writeUInt32BE(HEADER + body.length, 5);
  out[9] = type;
  out[10] = JSON_CODEC;
  out[11] = 0;
  out.writeUInt32BE(requestId >>> 0, 12);
  body.copy(out, HEADER);
  return out;
}

function parseRequest(body) {
  const patternLength = body.readUInt16BE(0);
  const pattern = body.toString('utf8', 2, 2 + patternLength);
  const metaLength = body.readUInt32BE(2 + patternLength);
  const dataStart = 6 + patternLength + metaLength;
  const data = dataStart < body.length ? JSON.parse(body.toString('utf8', dataStart)) : undefined;
  return { pattern, data };
}

function serve(socket) {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const timers = new Map();
  socket.on('close', () => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });
  socket.write(frame(T.Hello, 0, { idleTimeoutMs, maxFrameSize: MAX_FRAME }));
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER) {
      const length = pending.readUInt32BE(5);
      if (pending.length < length) break;
      const type = pending[9];
      const requestId = pending.readUInt32BE(12);
      const body = pending.subarray(HEADER, length);
      pending = pending.subarray(length);
      if (type === T.Ping) socket.write(frame(T.Pong, requestId));
      else if (type === T.Cancel) {
        clearTimeout(timers.get(requestId));
        timers.delete(requestId);
      } else if (type === T.Request) {
        const { pattern, data } = parseRequest(body);
        if (pattern === 'echo') socket.write(frame(T.End, requestId, data));
        else if (pattern === 'pid') socket.write(frame(T.End, requestId, process.pid));
        else if (pattern === 'delay') {
          timers.set(
            requestId,
            setTimeout(() => {
              timers.delete(requestId);
              socket.write(frame(T.End, requestId, data.value));
            }, data.ms),
          );
        } else if (pattern === 'late') {
          // Like delay, but deaf to Cancel: the answer arrives even after the caller gave up.
          const t = setTimeout(() => {
            timers.delete(-requestId);
            socket.write(frame(T.End, requestId, data.value));
          }, data.ms);
          timers.set(-requestId, t);
        } else if (pattern === 'hang') {
          // Never answered.
        } else socket.write(frame(T.Error, requestId, { status: 'error', message: `no handler for ${pattern}` }));
      }
    }
  });
}

const server = createServer(serve);
server.on('error', (err) => {
  process.send?.({ type: 'error', message: err.message });
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: server.address().port, pid: process.pid });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
