import { MsRpcError } from '../errors/ms-rpc-error.js';

/**
 * How an error crosses the wire: a plain object, the way Nest's transports deliver errors
 * (an Error instance would serialize as `{}`). `code` is what callers switch on, e.g. a busy
 * server's 'ERR_SERVER_BUSY' (see isServerBusyPayload); `name` lets them tell typed errors apart.
 */
export interface WireError {
  status: 'error';
  message: string;
  name?: string;
  code?: string;
}

/**
 * The one mapper from what was thrown to what is sent in an Error frame. An Error becomes a
 * {@link WireError}; any other value a handler chose to throw (an RpcException's payload: a
 * string, an object) goes as it is, as Nest's own transports do.
 */
export function toWireError(error: unknown): unknown {
  if (error instanceof Error) return plainError(error);
  return error === undefined ? { status: 'error', message: 'Unknown error' } : error;
}

/**
 * A {@link WireError} for whatever was thrown, never the raw value: for failures of this side
 * (an answer that could not be encoded), where the thrown value itself may not serialize.
 */
export function plainError(error: unknown): WireError {
  // A library error says what it wants to carry (e.g. a FrameTooLargeError its sizes).
  if (error instanceof MsRpcError) return { status: 'error', ...error.toJSON() };
  const e = error as { message?: unknown; name?: unknown; code?: unknown } | null | undefined;
  const plain: WireError = {
    status: 'error',
    message: typeof e?.message === 'string' ? e.message : String(error),
  };
  if (typeof e?.name === 'string') plain.name = e.name;
  if (typeof e?.code === 'string') plain.code = e.code;
  return plain;
}
