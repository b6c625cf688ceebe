import { BackpressureError } from '../errors/backpressure-error.js';
import { EncodeError } from '../errors/encode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { isServerBusyPayload, ServerBusyError } from '../errors/server-busy-error.js';

/** The fields this library's errors carry across the wire (see plainError and the errors' toJSON). */
interface WireFields {
  name?: unknown;
  message?: unknown;
  size?: unknown;
  limit?: unknown;
  bytes?: unknown;
  limitName?: unknown;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * A provider's error reply, as the caller gets it: the typed error when the reply is one this
 * library's server raises for the call itself (busy, an answer too large for this client, an
 * answer over a write buffer, an unencodable answer), naming the provider as dialled; anything
 * else (what a handler threw: an RpcException's payload, Nest's internal error) as it came, as
 * Nest's transports deliver it.
 */
export function remoteError(address: string, error: unknown): unknown {
  // A busy server's refusal is recognised by its code alone (older servers send no name).
  if (isServerBusyPayload(error)) return new ServerBusyError(address, error.message ?? 'too many requests in flight');
  if (error === null || typeof error !== 'object') return error;
  const e = error as WireFields;
  switch (e.name) {
    case 'FrameTooLargeError':
      if (isCount(e.size) && isCount(e.limit)) return new FrameTooLargeError(e.size, e.limit, `Answer from ${address} (client limit: this client's maxFrameSize)`);
      break;
    case 'BackpressureError':
      if ((e.limitName === 'maxStreamBuffer' || e.limitName === 'maxWriteBuffer') && isCount(e.bytes) && isCount(e.limit)) {
        return new BackpressureError(e.limitName, e.bytes, e.limit, address);
      }
      break;
    case 'EncodeError':
      if (typeof e.message === 'string') return new EncodeError(`${address}: ${e.message}`);
      break;
  }
  return error;
}
