import { encodeFrame, ID_BYTES, LENGTH_BYTES } from '../raw-frames.js';
import { runRawFramedServer } from './raw-framed-server.js';

const BODY_OFFSET = LENGTH_BYTES + ID_BYTES;

/**
 * The raw-json baseline's server: `JSON.parse` of the request body, `JSON.stringify({ data })` as
 * the answer, same id. No dispatch on the pattern, no handler pipeline: the least a JSON
 * transport's server can do.
 */
runRawFramedServer((frame, socket) => {
  const request = JSON.parse(frame.toString('utf8', BODY_OFFSET)) as { pattern: unknown; data: unknown };
  const id = frame.readUInt32BE(LENGTH_BYTES);
  socket.write(encodeFrame(id, JSON.stringify({ data: request.data }), 'utf8'));
});
