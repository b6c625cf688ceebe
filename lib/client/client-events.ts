import { EventEmitter } from 'node:events';
import { describeError, type MsRpcLogger } from '../common/logger.js';
import type { Connection } from '../connection/connection.js';
import type { ConnectionState } from '../connection/connection-state.js';
import type { Directory } from '../directory/directory.js';
import type { RpcMetrics } from '../metrics/rpc-metrics.js';
import type { ProviderRouter } from './provider-router.js';

/** Events emitted through `client.on(event, listener)`. */
export interface MsRpcClientEvents {
  /** Every state change of this client's provider connections, with the provider address. */
  'connection-state': (event: { address: string; from: ConnectionState; to: ConnectionState; reason?: Error }) => void;
  /**
   * A provider failed every reconnect attempt: it is out of load balancing and probed at the
   * backoff cap while discovery lists it.
   */
  evicted: (event: { address: string; attempts: number; reason?: Error }) => void;
  /** An evicted provider answered a probe and takes calls again. */
  readmitted: (event: { address: string }) => void;
  /** Aggregate status: 'connected' while at least one provider connection is ready. */
  status: (status: MsRpcClientStatus) => void;
  /** A registry error (logged as well). */
  error: (error: Error) => void;
}

export type MsRpcClientStatus = 'connected' | 'disconnected';

/**
 * A client's status and the events it emits about its providers. A shared channel cache reports
 * every client's connections: only this client's providers count here. A listener that throws is
 * logged (once per event name) and never disturbs the transport: these events are emitted from
 * inside connection state transitions.
 */
export class ClientEvents {
  private readonly emitter = new EventEmitter();
  private status: MsRpcClientStatus = 'disconnected';
  /** Events whose throwing listener was already logged. */
  private readonly loggedFailures = new Set<string>();

  constructor(
    private readonly directory: Directory,
    private readonly router: ProviderRouter,
    private readonly metrics: RpcMetrics | undefined,
    /** Publishes a status change (the client's `status` observable). */
    private readonly publish: (status: MsRpcClientStatus) => void,
    private readonly logger: MsRpcLogger,
  ) {}

  on(event: string, callback: (...args: unknown[]) => void): void {
    this.emitter.on(event, callback);
  }

  /** A provider joined the instance cache. */
  providerAdded(): void {
    // A shared cache may hand over a connection that is already ready: no state change
    // will follow, so the status must be updated here.
    if (this.status !== 'connected' && this.router.hasReadyProvider()) this.setStatus('connected');
  }

  /** A registry error, already logged. */
  registryError(err: Error): void {
    // An EventEmitter throws on an 'error' nobody listens to: report it only to listeners.
    if (this.emitter.listenerCount('error') > 0) this.emit('error', err);
  }

  onStateChange(connection: Connection, from: ConnectionState, to: ConnectionState, reason?: Error): void {
    if (!this.directory.get(connection.address) && to !== 'closed') return;
    this.router.onConnectionChanged();
    this.metrics?.connectionStateChanged(connection, connection.address, from, to, reason);
    this.emit('connection-state', { address: connection.address, from, to, reason });
    if (to === 'ready') this.router.onAvailable();
    else if (to === 'transient-failure' && from === 'connecting') this.router.onAttemptFailed();
    this.setStatus(this.router.hasReadyProvider() ? 'connected' : 'disconnected');
  }

  /** A provider of this client is draining: its connection takes no new call from now on. */
  onGoAway(connection: Connection): void {
    if (this.directory.get(connection.address)) this.router.onConnectionChanged();
  }

  onEvicted(address: string, attempts: number, reason?: Error): void {
    if (!this.directory.get(address)) return;
    this.metrics?.providerEvicted(address);
    this.emit('evicted', { address, attempts, reason });
  }

  onReadmitted(address: string): void {
    if (this.directory.get(address)) this.emit('readmitted', { address });
  }

  /** The client closed: a last 'disconnected'. Listeners stay for when it is used again. */
  close(): void {
    this.setStatus('disconnected');
  }

  private setStatus(status: MsRpcClientStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.publish(status);
    this.emit('status', status);
  }

  private emit(event: string, payload: unknown): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        (listener as (arg: unknown) => void)(payload);
      } catch (err) {
        if (this.loggedFailures.has(event)) continue;
        this.loggedFailures.add(event);
        this.logger.error(
          `a '${event}' listener threw (ignored; further failures of this event's listeners are not logged): ${describeError(err)}`,
          (err as Error | undefined)?.stack,
        );
      }
    }
  }
}
