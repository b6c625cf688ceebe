import type { Clock, TimerHandle } from '../../common/clock.js';
import { quotePeer, type MsRpcLogger } from '../../common/logger.js';
import { OutageLog } from '../../common/outage-log.js';
import { NacosServerError } from '../../errors/nacos-server-error.js';
import { RegistryError } from '../../errors/registry-error.js';
import { ConnectionStateMachine, type ConnectionState } from '../../connection/connection-state.js';
import { ExponentialBackoff } from '../../liveness/backoff.js';
import type { NacosServerAddress, NacosTlsOptions } from '../nacos-registry-options.js';
import { setupConnection, SetupAckWaiter } from './connection-setup.js';
import { GrpcConnection, type GrpcConnectionListener } from './grpc-connection.js';
import type { GrpcModules } from './grpc-modules.js';
import { HealthCheck } from './health-check.js';
import type { NacosAuth } from './nacos-auth.js';
import type { NacosGrpcOptions } from './nacos-grpc-options.js';
import { expectSuccess, NacosType, requestPayload, responsePayload, type NacosTypeName } from './nacos-messages.js';
import type { NacosPayload } from './payload-codec.js';

/** What the client tells the registry above it. */
export interface NacosRpcListener {
  /** A new connection is set up (SetupAck received): everything must be redone on it. */
  onConnected(connectionId: string): void;
  /** The connection is gone: the server has dropped this client's registrations and subscriptions. */
  onDisconnected(): void;
  /** A NotifySubscriberRequest body; returns false when it could not be applied (answered 500). */
  onPush(body: Record<string, unknown>): boolean;
}

export interface NacosRpcClientConfig {
  servers: readonly NacosServerAddress[];
  tls: boolean | NacosTlsOptions;
  timings: NacosGrpcOptions;
  labels: Record<string, string>;
  /** Sent with every naming request (the Java client's `app`). */
  headers: Record<string, string>;
}

/** A unary naming request as the registry describes it. */
export interface NacosCall {
  type: NacosTypeName;
  response: NacosTypeName;
  fields: Record<string, unknown>;
  /** Needs the access token (Instance/Batch = WRITE, Subscribe/Query = READ). */
  secured: boolean;
}

const UNREGISTERED = 301;
const NO_RIGHT = 403;
const STARTING = 300;

/**
 * Nacos's `RpcClient` for one registry: holds one connection at a time to one server of the list,
 * sets it up, watches it (HealthCheck, stream end, ClientDetection, ConnectReset, 301 answers) and
 * replaces it across the server list with backoff. Naming calls wait for a ready connection within
 * their timeout. Only this class touches connections; completions from a replaced one are ignored.
 */
export class NacosRpcClient {
  private readonly state: ConnectionStateMachine;
  private connection: GrpcConnection | undefined;
  private readyWaiters = new Set<() => void>();
  private readonly backoff: ExponentialBackoff;
  private readonly health: HealthCheck;
  private nextServer: number;
  private preferred: NacosServerAddress | undefined;
  private readonly sleepers = new Map<() => void, TimerHandle>();
  private readonly acks = new WeakMap<GrpcConnection, SetupAckWaiter>();
  /** A lost connection and the failed reconnects after it: one warning, then one line when connected again. */
  private readonly outage: OutageLog;
  /** Why the last health check failed, for the line that says the connection is lost. */
  private lastProbeFailure = '';

  constructor(
    private readonly modules: GrpcModules,
    private readonly config: NacosRpcClientConfig,
    private readonly auth: NacosAuth | undefined,
    private readonly listener: NacosRpcListener,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock,
  ) {
    const t = config.timings;
    this.state = new ConnectionStateMachine('nacos', logger, (from, to) => this.onState(from, to));
    this.outage = new OutageLog(logger, clock);
    this.backoff = new ExponentialBackoff({ initialDelay: t.reconnectMinDelay, maxDelay: t.reconnectMaxDelay, maxAttempts: 0, jitter: 0.2 });
    this.health = new HealthCheck(t, clock, () => this.probe(), () =>
      this.lost(this.connection, `health check failed${this.lastProbeFailure ? ` (${this.lastProbeFailure})` : ''}`),
    );
    // Clients of one list spread over its servers.
    this.nextServer = Math.floor(Math.random() * config.servers.length);
  }

  get connectionState(): ConnectionState {
    return this.state.state;
  }

  get current(): GrpcConnection | undefined {
    return this.state.state === 'ready' ? this.connection : undefined;
  }

  start(): void {
    if (this.state.state !== 'idle') return;
    this.state.transition('connecting');
    void this.connectLoop();
  }

  /**
   * One naming request: waits for a ready connection, adds the token, and retries within
   * `requestTimeout` after a transport failure, a 301 (connection not yet registered: reconnect)
   * or a 403 (token refused: log in again).
   * @throws NacosServerError when Nacos refuses it; RegistryError when no answer came in time.
   */
  async request(call: NacosCall): Promise<{ body: Record<string, unknown>; onCurrent: boolean }> {
    const timeout = this.config.timings.requestTimeout;
    const deadline = this.clock.now() + timeout;
    let lastError: unknown;
    let reloggedIn = false;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0 || this.state.state === 'closed') break;
      const connection = await this.waitReady(remaining);
      if (!connection) break;
      let token: string | undefined;
      try {
        const auth = call.secured && this.auth ? await this.auth.headers(connection.server) : {};
        token = auth.accessToken;
        const headers = { ...this.config.headers, ...auth };
        const answer = await connection.unary(requestPayload(call.type, 'naming', call.fields, headers), Math.max(1, deadline - this.clock.now()));
        const body = expectSuccess(answer, call.response);
        const onCurrent = connection === this.current;
        if (onCurrent) this.health.markActive();
        return { body, onCurrent };
      } catch (err) {
        lastError = err;
        if (err instanceof NacosServerError) {
          if (err.errorCode === UNREGISTERED) {
            this.lost(connection, 'server says the connection is unregistered (301)');
            continue;
          }
          if (err.errorCode === NO_RIGHT && this.auth && !reloggedIn) {
            reloggedIn = true;
            this.auth.invalidate(token);
            continue;
          }
          throw err;
        }
        if (err instanceof RegistryError) throw err;
        // Transport failure: the stream watcher or the health check replaces a dead connection;
        // pause briefly so a flapping one is not hammered.
        await this.sleep(Math.min(100 * attempt, Math.max(0, deadline - this.clock.now())));
      }
    }
    if (this.state.state === 'closed') throw new RegistryError('Nacos registry is closed', { cause: lastError });
    throw new RegistryError(
      `no answer from Nacos within ${timeout} ms (${this.servers()}, connection ${this.state.state})` +
        (lastError ? `: ${(lastError as Error).message}` : ''),
      { cause: lastError },
    );
  }

  /** Closes the connection (the server drops this client's instances at once) and every timer. */
  close(): void {
    if (this.state.state === 'closed') return;
    this.state.transition('closed');
    this.health.stop();
    for (const [wake, timer] of [...this.sleepers]) {
      this.clock.clearTimeout(timer);
      wake();
    }
    this.connection?.close();
    this.connection = undefined;
    for (const wake of [...this.readyWaiters]) wake();
  }

  private servers(): string {
    return this.config.servers.map((s) => `${s.host}:${s.grpcPort}`).join(',');
  }

  private onState(from: string, to: string): void {
    if (to === 'ready') {
      for (const wake of [...this.readyWaiters]) wake();
      this.health.start();
      this.listener.onConnected(this.connection!.connectionId);
    } else if (from === 'ready' && to !== 'closed') {
      this.health.stop();
      this.listener.onDisconnected();
    }
  }

  private async connectLoop(): Promise<void> {
    while (this.state.state === 'connecting') {
      const server = this.pickServer();
      const connection = new GrpcConnection(this.modules, server, { tls: this.config.tls, maxInboundMessageSize: this.config.timings.maxInboundMessageSize }, this.connectionListener);
      const ack = new SetupAckWaiter();
      this.acks.set(connection, ack);
      this.connection = connection;
      try {
        await setupConnection(connection, ack, this.config.labels, this.config.timings, this.clock);
        if (this.state.state !== 'connecting' || this.connection !== connection) {
          connection.close();
          return;
        }
        this.backoff.reset();
        const connected = `nacos: connected to ${connection.label} (connection ${connection.connectionId})`;
        if (!this.outage.recovered(connected)) this.logger.log(connected);
        this.state.transition('ready');
        return;
      } catch (err) {
        connection.close();
        if (this.connection === connection) this.connection = undefined;
        if (this.state.state !== 'connecting') return;
        const starting = err instanceof NacosServerError && err.errorCode === STARTING;
        this.outage.failed(`nacos: connecting to ${connection.label} failed${starting ? ' (server starting)' : ''}: ${(err as Error).message}`);
        this.state.transition('transient-failure');
        await this.sleep(this.backoff.next() ?? this.config.timings.reconnectMaxDelay);
        if ((this.state.state as ConnectionState) !== 'transient-failure') return;
        this.state.transition('connecting');
      }
    }
  }

  private pickServer(): NacosServerAddress {
    const preferred = this.preferred;
    this.preferred = undefined;
    if (preferred) return preferred;
    const servers = this.config.servers;
    return servers[this.nextServer++ % servers.length];
  }

  /**
   * The connection died (or must be replaced): reconnect, to `preferred` first when given.
   * Ignored for a connection that was already replaced.
   */
  private lost(connection: GrpcConnection | undefined, why: string, preferred?: NacosServerAddress): void {
    if (!connection || connection !== this.connection || this.state.state !== 'ready') return;
    this.outage.failed(`nacos: connection ${connection.connectionId} to ${connection.label} lost: ${why}`);
    this.connection = undefined;
    connection.close();
    this.preferred = preferred;
    this.state.transition('transient-failure', new Error(why));
    this.state.transition('connecting');
    void this.connectLoop();
  }

  private readonly connectionListener: GrpcConnectionListener = {
    onStreamMessage: (connection, payload) => this.onStreamMessage(connection, payload),
    onStreamClosed: (connection, reason) => {
      this.acks.get(connection)?.fail(reason);
      this.lost(connection, reason.message);
    },
    onBadMessage: (connection, error) => this.logger.warn(`nacos: ignored a bad message from ${connection.label}: ${error.message}`),
  };

  /** Server-initiated requests on the stream; each is answered with the same requestId. */
  private onStreamMessage(connection: GrpcConnection, payload: NacosPayload): void {
    if (connection !== this.connection) return;
    const requestId = payload.body.requestId;
    switch (payload.type) {
      case NacosType.SetupAckRequest:
        // Never answered: the server expects no reply.
        this.acks.get(connection)?.acked();
        return;
      case NacosType.ClientDetectionRequest:
        this.health.markActive();
        connection.write(responsePayload(NacosType.ClientDetectionResponse, requestId));
        return;
      case NacosType.ConnectResetRequest: {
        const target = this.resetTarget(payload.body);
        const move = () => this.lost(connection, `server asked to reconnect${target ? ` to ${target.host}:${target.port}` : ''} (ConnectReset)`, target);
        // Closing the connection at once would cancel the stream before the answer left.
        if (!connection.write(responsePayload(NacosType.ConnectResetResponse, requestId), move)) move();
        return;
      }
      case NacosType.NotifySubscriberRequest: {
        this.health.markActive();
        let ok = false;
        try {
          ok = this.listener.onPush(payload.body);
        } catch (err) {
          this.logger.error(`nacos: applying a push failed: ${(err as Error).message}`);
        }
        connection.write(
          ok
            ? responsePayload(NacosType.NotifySubscriberResponse, requestId)
            : responsePayload(NacosType.ErrorResponse, requestId, 500, 'push not applied'),
        );
        return;
      }
      default:
        if (payload.type.endsWith('Response')) return;
        this.logger.warn(`nacos: no handler for ${quotePeer(payload.type)} from ${connection.label}`);
        connection.write(responsePayload(NacosType.ErrorResponse, requestId, 500, `no handler for ${payload.type}`));
    }
  }

  /** ConnectReset names a server to move to; only one of our list is followed (else the next one). */
  private resetTarget(body: Record<string, unknown>): NacosServerAddress | undefined {
    const ip = typeof body.serverIp === 'string' ? body.serverIp : '';
    if (!ip) return undefined;
    const port = Number(body.serverPort);
    return this.config.servers.find((s) => s.host === ip && (!Number.isFinite(port) || port === 0 || s.port === port));
  }

  /** One HealthCheck on the current connection. */
  ping(): Promise<boolean> {
    return this.probe();
  }

  private async probe(): Promise<boolean> {
    const connection = this.connection;
    if (!connection || this.state.state !== 'ready') return false;
    try {
      const answer = await connection.unary(requestPayload(NacosType.HealthCheckRequest, 'internal', {}), this.config.timings.healthCheckTimeout);
      expectSuccess(answer, NacosType.HealthCheckResponse);
      this.lastProbeFailure = '';
      return true;
    } catch (err) {
      // Retried by HealthCheck; the connection is declared lost (one warning naming this) only if the retries fail too.
      this.lastProbeFailure = (err as Error).message;
      this.logger.debug?.(`nacos: health check on ${connection.label} failed: ${(err as Error).message}`);
      return false;
    }
  }

  /** Resolves with the ready connection, or undefined when none came within `ms` or the client closed. */
  private waitReady(ms: number): Promise<GrpcConnection | undefined> {
    if (this.current || this.state.state === 'closed') return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const done = () => {
        this.readyWaiters.delete(done);
        this.clock.clearTimeout(timer);
        resolve(this.current);
      };
      const timer = this.clock.setTimeout(done, ms);
      this.readyWaiters.add(done);
    });
  }

  /** A pause that close() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.state.state === 'closed') return resolve();
      const wake = () => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.set(wake, this.clock.setTimeout(wake, ms));
    });
  }
}
