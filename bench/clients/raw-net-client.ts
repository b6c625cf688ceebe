import type { EchoClient } from './echo-client.js';
import { BODY_OFFSET, createRawFramedClient } from './raw-framed-client.js';

/**
 * The socket-limit context row: the payload's bytes as the body (latin1, no serialization) both
 * ways. No transport that carries JS objects can match it; raw-json is the baseline for that.
 */
export function createRawNetClient(port: number): EchoClient {
  return createRawFramedClient(port, {
    name: 'raw-net',
    encoding: 'latin1',
    request: (payload) => payload,
    answer: (frame) => frame.toString('latin1', BODY_OFFSET),
  });
}
