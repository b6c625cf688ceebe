import type { EchoClient } from './echo-client.js';
import { BODY_OFFSET, createRawFramedClient } from './raw-framed-client.js';

/**
 * The least a transport for JS objects can do (issue 19's baseline): raw-net's framing with
 * `JSON.stringify({ pattern, data })` as the request body and `JSON.parse` of the answer's
 * `{ data }`. No heartbeats, deadlines, metrics, routing or typed errors.
 */
export function createRawJsonClient(port: number): EchoClient {
  return createRawFramedClient(port, {
    name: 'raw-json',
    encoding: 'utf8',
    request: (payload) => JSON.stringify({ pattern: 'echo', data: payload }),
    answer: (frame) => (JSON.parse(frame.toString('utf8', BODY_OFFSET)) as { data: unknown }).data,
  });
}
