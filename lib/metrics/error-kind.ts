import { MsRpcError, type MsRpcErrorCode } from '../errors/ms-rpc-error.js';

/**
 * The `code` label of a failed call:
 * - an `MsRpcErrorCode` (`ERR_RPC_TIMEOUT`, `ERR_CONNECTION_CLOSED`, `ERR_NO_PROVIDER`, ...) for
 *   errors this library raised locally;
 * - `remote` for an error the remote handler answered with (an application error: RpcException,
 *   a thrown Error, "no matching handler"); on the server, the error a handler answered with;
 * - `other` for any other local Error (serializer failure, bug).
 */
export type RpcErrorKind = MsRpcErrorCode | 'remote' | 'other';

/**
 * Classifies a call's error for the `code` label. Errors cross the wire as plain values (the
 * codec turns every Error into `{ status, message, name, code? }`), so anything that is not an
 * `Error` instance was answered by the peer. A remote `code` field is deliberately not used as
 * the label: the peer controls it, and label values must stay a small fixed set.
 */
export function classifyError(error: unknown): RpcErrorKind {
  if (error instanceof MsRpcError) return error.code;
  if (error instanceof Error) return 'other';
  return 'remote';
}

/**
 * Whether a connection loss was the heartbeat declaring the peer dead. The connection reports it
 * as a ConnectionClosedError whose reason starts with `heartbeat timeout` (see
 * lib/connection/connection.ts); this is the only place that knows the wording.
 */
export function isHeartbeatTimeout(reason: Error | undefined): boolean {
  if (!(reason instanceof MsRpcError) || reason.code !== 'ERR_CONNECTION_CLOSED') return false;
  return reason.message.includes(': heartbeat timeout');
}
