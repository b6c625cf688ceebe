import type { ConnectionState } from '../connection/connection-state.js';

/** Events emitted through `client.on(event, listener)`. */
export interface MsRpcClientEvents {
  /** Every state change of this client's provider connections, with the provider address. */
  'connection-state': (event: { address: string; from: ConnectionState; to: ConnectionState; reason?: Error }) => void;
  /** A provider failed every reconnect attempt and left the instance cache. */
  evicted: (event: { address: string; attempts: number; reason?: Error }) => void;
  /** Aggregate status: 'connected' while at least one provider connection is ready. */
  status: (status: MsRpcClientStatus) => void;
  /** A registry error (logged as well). */
  error: (error: Error) => void;
}

export type MsRpcClientStatus = 'connected' | 'disconnected';
