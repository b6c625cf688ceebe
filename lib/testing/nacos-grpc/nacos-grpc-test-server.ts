import net, { type AddressInfo, type Socket } from 'node:net';
import type * as GrpcJs from '@grpc/grpc-js';
import { hostPort } from '../../common/host-port.js';
import { loadGrpcModules, type GrpcModules } from '../../registry/nacos-grpc/grpc-modules.js';
import type { NacosPayload, PayloadCodec } from '../../registry/nacos-grpc/payload-codec.js';
import { groupedName, namespaceOf } from '../nacos-test-store.js';
import type { NacosTestScope } from '../nacos-test-server.js';
import { NacosGrpcTestAuth } from './grpc-test-auth.js';
import { GrpcTestConnection } from './grpc-test-connection.js';
import { GrpcTestNaming, NamingRefusal } from './grpc-test-naming.js';
import { resolveNacosGrpcTestServerOptions, type NacosGrpcTestServerOptions, type ResolvedNacosGrpcTestServerOptions } from './grpc-test-options.js';
import { GrpcTestPusher, type GrpcPushRecord } from './grpc-test-pusher.js';
import { NacosGrpcTestStore, type GrpcStoredInstance } from './grpc-test-store.js';

/** One Payload that crossed the wire, as the server saw it. */
export interface TranscriptEntry {
  /** `in` = sent by the client, `out` = sent by the server. */
  direction: 'in' | 'out';
  channel: 'unary' | 'stream';
  connectionId: string;
  payload: NacosPayload;
  bytes: Buffer;
}

const SECURED = new Set(['InstanceRequest', 'BatchInstanceRequest', 'PersistentInstanceRequest', 'SubscribeServiceRequest', 'ServiceQueryRequest', 'ServiceListRequest']);
const ABILITIES = { supportPersistentInstanceByGrpc: true, fuzzyWatch: true, lock: true, mcp: true };
const identity = (b: Buffer): Buffer => b;

/**
 * A protocol-faithful Nacos 2.x/3.x gRPC naming server node (see `nacos-grpc-facts.md`, sec. 7a),
 * on loopback: `/Request/request` and `/BiRequestStream/requestBiStream` on the gRPC port (main
 * port + 1000), connections keyed by their TCP transport (this node accepts the sockets itself
 * and hands them to grpc-js, so it sees a transport close as Nacos does), instances bound to
 * their connection, pushes with acks and retries, idle-client detection, ConnectReset, auth
 * with 403s, a "starting" mode (300), stop / restart empty / kill transports, and several nodes
 * over one {@link NacosGrpcTestStore}.
 */
export class NacosGrpcTestServer {
  /** @internal */
  readonly options: ResolvedNacosGrpcTestServerOptions;
  /** The instances every node sharing it (a cluster) serves. */
  readonly store: NacosGrpcTestStore;
  /** @internal */
  readonly auth: NacosGrpcTestAuth | undefined;
  /** Every Payload in and out, oldest first (capped at 20,000). */
  readonly transcript: TranscriptEntry[] = [];
  private readonly ownsStore: boolean;
  private readonly connectionsByPeer = new Map<string, GrpcTestConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly pusher: GrpcTestPusher;
  private readonly naming: GrpcTestNaming;
  /** `@grpc/grpc-js` and protobufjs, imported by the first start() (optional peers). */
  private modules: GrpcModules | undefined;
  private codec: PayloadCodec | undefined;
  private grpcServer: GrpcJs.Server | undefined;
  private injector: GrpcJs.ConnectionInjector | undefined;
  private listener: net.Server | undefined;
  private mainPort: number;
  private boundGrpcPort: number;
  private detector: NodeJS.Timeout | undefined;
  private unsubscribeStore: (() => void) | undefined;
  private requestCounter = 0;
  private connectionCounter = 0;
  /** Answer every unary call with ErrorResponse 300 and refuse stream setups, as a starting server does. */
  starting = false;

  constructor(options: NacosGrpcTestServerOptions & { store?: NacosGrpcTestStore } = {}) {
    this.options = resolveNacosGrpcTestServerOptions(options);
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? new NacosGrpcTestStore();
    this.auth = this.options.auth ? new NacosGrpcTestAuth(this.options.auth) : undefined;
    this.mainPort = this.options.port;
    this.boundGrpcPort = this.options.grpcPort ?? (this.options.port === 0 ? 0 : this.options.port + 1000);
    this.pusher = new GrpcTestPusher(this.store, this.options, () => this.connectionsByPeer.values(), () => String(++this.requestCounter));
    this.naming = new GrpcTestNaming(this.store, (c, ns, svc) => this.pusher.subscribed(c, ns, svc));
  }

  /** This node's name (`options.name`), in connection ids and {@link publishingNodes}. */
  get name(): string {
    return this.options.name;
  }

  get port(): number {
    return this.mainPort;
  }

  get grpcPort(): number {
    return this.boundGrpcPort;
  }

  /** `host:mainPort`, for a client's `serverList`. */
  get address(): string {
    return hostPort(this.options.host, this.mainPort);
  }

  get running(): boolean {
    return this.grpcServer !== undefined;
  }

  /**
   * Starts, or restarts on the same ports after {@link stop}. `wipe: true` forgets this node's
   * clients and tokens (a restart with empty state); a single node forgets them on stop anyway,
   * since every connection died with it.
   */
  async start(opts: { wipe?: boolean } = {}): Promise<void> {
    if (this.grpcServer) throw new Error('NacosGrpcTestServer already running');
    this.modules ??= await loadGrpcModules();
    this.codec = this.modules.codec;
    const { grpc } = this.modules;
    if (opts.wipe) {
      this.store.wipe(`${this.options.name}/`);
      this.auth?.reset();
      this.transcript.length = 0;
    }
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    server.addService(
      { request: { path: '/Request/request', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
      { request: (call: GrpcJs.ServerUnaryCall<Buffer, Buffer>, callback: GrpcJs.sendUnaryData<Buffer>) => this.onUnary(call, callback) },
    );
    server.addService(
      { requestBiStream: { path: '/BiRequestStream/requestBiStream', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
      { requestBiStream: (call: GrpcJs.ServerDuplexStream<Buffer, Buffer>) => this.onStream(call) },
    );
    const credentials = this.options.tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(this.options.tls.key), cert_chain: Buffer.from(this.options.tls.cert) }], false)
      : grpc.ServerCredentials.createInsecure();
    this.injector = server.createConnectionInjector(credentials);
    this.grpcServer = server;
    await this.bind();
    this.pusher.reopen();
    this.unsubscribeStore = this.store.onChange((ns, svc) => this.pusher.changed(ns, svc));
    this.detector = setInterval(() => this.detectIdle(), this.options.detectionIntervalMs);
    this.detector.unref();
  }

  /** The node goes down: every transport closes, timers stop. */
  async stop(): Promise<void> {
    const server = this.grpcServer;
    if (!server) return;
    this.grpcServer = undefined;
    clearInterval(this.detector);
    this.unsubscribeStore?.();
    this.pusher.close();
    const listener = this.listener;
    this.listener = undefined;
    const closed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    for (const connection of this.connectionsByPeer.values()) connection.close();
    this.connectionsByPeer.clear();
    // Other nodes keep a dead node's clients until they expire; a lone node's die with it.
    if (this.ownsStore) this.store.wipe(`${this.options.name}/`);
    else this.store.orphanClients(`${this.options.name}/`, Date.now() + this.options.orphanExpiryMs);
    this.injector?.destroy();
    this.injector = undefined;
    server.forceShutdown();
    await closed;
    await this.auth?.close();
  }

  /** Closes the TCP transports (all, or those `filter` picks) while the node stays up: clients must reconnect. */
  killTransports(filter: (c: { id: string; labels: Record<string, string> }) => boolean = () => true): number {
    let killed = 0;
    for (const connection of [...this.connectionsByPeer.values()]) {
      if (filter(connection)) {
        connection.socket.destroy();
        killed++;
      }
    }
    return killed;
  }

  /** Sends ConnectResetRequest to the matching connections (optionally naming a server to move to). */
  async connectReset(target?: { serverIp: string; serverPort: number }, filter: (c: { id: string }) => boolean = () => true): Promise<number> {
    const answers = await Promise.all(
      [...this.connectionsByPeer.values()]
        .filter((c) => c.registered && filter(c))
        .map((c) =>
          c.request(
            this.serverRequest('ConnectResetRequest', { ...(target ?? {}), connectionId: c.id }),
            this.options.detectionTimeoutMs,
          ),
        ),
    );
    return answers.filter((a) => a?.type === 'ConnectResetResponse').length;
  }

  /** Registered connections (ConnectionSetup received). */
  connections(): Array<{ id: string; peer: string; labels: Record<string, string>; clientVersion: string; naming: boolean; lastActive: number }> {
    return [...this.connectionsByPeer.values()]
      .filter((c) => c.registered)
      .map(({ id, peer, labels, clientVersion, naming, lastActive }) => ({ id, peer, labels, clientVersion, naming, lastActive }));
  }

  instances(service: string, scope: NacosTestScope = {}): GrpcStoredInstance[] {
    return this.store.instances(namespaceOf(scope.namespace), groupedName(service, scope.group)).map((i) => ({ ...i, metadata: { ...i.metadata } }));
  }

  /** Names of the nodes whose clients publish the service (`node` of the client ids), sorted. */
  publishingNodes(service: string, scope: NacosTestScope = {}): string[] {
    const ids = this.store.publishers(namespaceOf(scope.namespace), groupedName(service, scope.group));
    return [...new Set(ids.map((id) => id.split('/')[0]))].sort();
  }

  subscriberCount(service: string, scope: NacosTestScope = {}): number {
    const key = `${namespaceOf(scope.namespace)}|${groupedName(service, scope.group)}`;
    return [...this.connectionsByPeer.values()].filter((c) => c.subscriptions.has(key)).length;
  }

  get pushes(): readonly GrpcPushRecord[] {
    return this.pusher.records;
  }

  /** Payloads of one metadata.type in the transcript. */
  received(type: string): NacosPayload[] {
    return this.transcript.filter((e) => e.direction === 'in' && e.payload.type === type).map((e) => e.payload);
  }

  private async bind(): Promise<void> {
    const host = this.options.host;
    // Main port P and gRPC port P + 1000: retry until both are free (port 0 = any P).
    for (let attempt = 0; ; attempt++) {
      const wantGrpc = this.options.grpcPort !== undefined ? this.boundGrpcPort : this.mainPort === 0 ? 0 : this.mainPort + 1000;
      try {
        if (this.options.grpcPort !== undefined) {
          this.listener = await this.listen(host, wantGrpc);
          this.boundGrpcPort = (this.listener.address() as AddressInfo).port;
          if (this.auth && this.options.auth?.login !== false) this.mainPort = await this.auth.listen(host, this.mainPort);
        } else if (this.mainPort !== 0) {
          this.listener = await this.listen(host, this.mainPort + 1000);
          this.boundGrpcPort = this.mainPort + 1000;
          if (this.auth && this.options.auth?.login !== false) await this.auth.listen(host, this.mainPort);
        } else {
          // Any P with P + 1000 free: bind P+1000 from a free P (the login, or a probe socket, holds P).
          const probe = await this.listen(host, 0);
          const p = (probe.address() as AddressInfo).port;
          try {
            if (p + 1000 > 65535) throw Object.assign(new Error('port range'), { code: 'EADDRINUSE' });
            this.listener = await this.listen(host, p + 1000);
          } finally {
            await new Promise<void>((resolve) => probe.close(() => resolve()));
          }
          this.mainPort = p;
          this.boundGrpcPort = p + 1000;
          if (this.auth && this.options.auth?.login !== false) await this.auth.listen(host, p);
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 20 || this.options.port !== 0) throw err;
      }
    }
  }

  private listen(host: string, port: number): Promise<net.Server> {
    const server = net.createServer((socket) => this.onSocket(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  /** Like Nacos's AddressTransportFilter: a connection per transport, dropped when it closes. */
  private onSocket(socket: Socket): void {
    if (!this.injector || !this.listener) return void socket.destroy();
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const id = `${Date.now()}_${socket.remoteAddress}_${socket.remotePort}`;
    const connection = new GrpcTestConnection(id, peer, `${this.options.name}/${id}#${++this.connectionCounter}`, socket, this.codec!, (payload, bytes) =>
      this.record('out', 'stream', id, payload, bytes),
    );
    this.sockets.add(socket);
    this.connectionsByPeer.set(peer, connection);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.connectionsByPeer.get(peer) === connection) this.connectionsByPeer.delete(peer);
      connection.close();
      this.store.removeClient(connection.clientId);
    });
    this.injector.injectConnection(socket);
  }

  private onUnary(call: GrpcJs.ServerUnaryCall<Buffer, Buffer>, callback: GrpcJs.sendUnaryData<Buffer>): void {
    const connection = this.connectionsByPeer.get(call.getPeer());
    const reply = (payload: NacosPayload) => {
      const bytes = this.codec!.encode(payload);
      this.record('out', 'unary', connection?.id ?? '', payload, bytes);
      callback(null, bytes);
    };
    let request: NacosPayload;
    try {
      request = this.codec!.decode(call.request);
    } catch (err) {
      return reply(errorResponse(502, `bad payload: ${(err as Error).message}`));
    }
    this.record('in', 'unary', connection?.id ?? '', request, call.request);
    if (this.starting) return reply(errorResponse(300, 'Server is starting,please try later.'));
    if (!connection) return reply(errorResponse(301, 'Connection is unregistered.'));
    if (request.type === 'ServerCheckRequest') {
      return reply(response('ServerCheckResponse', { connectionId: connection.id, supportAbilityNegotiation: true }));
    }
    const handlers: Record<string, (body: Record<string, unknown>) => Record<string, unknown>> = {
      HealthCheckRequest: () => ({}),
      InstanceRequest: (b) => this.naming.instance(connection, b),
      BatchInstanceRequest: (b) => this.naming.batch(connection, b),
      SubscribeServiceRequest: (b) => this.naming.subscribe(connection, b),
      ServiceQueryRequest: (b) => this.naming.query(connection, b),
      ServiceListRequest: (b) => this.naming.list(b),
    };
    const handler = handlers[request.type];
    if (!handler) return reply(errorResponse(302, `RequestHandler Not Found : ${request.type}`));
    if (!connection.registered) return reply(errorResponse(301, 'Connection is unregistered.'));
    connection.lastActive = Date.now();
    const responseType = request.type === 'ServiceQueryRequest' ? 'QueryServiceResponse' : request.type.replace(/Request$/, 'Response');
    if (this.auth && SECURED.has(request.type) && !this.auth.accepts(request.headers.accessToken)) {
      return reply(failure(responseType, 403, 'token invalid or expired'));
    }
    try {
      reply(response(responseType, handler(request.body)));
    } catch (err) {
      if (err instanceof NamingRefusal) {
        return reply(err.errorCode < 0 ? errorResponse(err.errorCode, err.message, err.errorCode) : failure(responseType, err.errorCode, err.message));
      }
      reply(errorResponse(500, String(err), 500));
    }
  }

  private onStream(call: GrpcJs.ServerDuplexStream<Buffer, Buffer>): void {
    const connection = this.connectionsByPeer.get(call.getPeer());
    call.on('error', () => undefined);
    // Ending only the stream does not unregister: the acceptor just completes its side.
    call.on('end', () => call.end());
    if (!connection) return void call.end();
    call.on('data', (bytes: Buffer) => {
      let payload: NacosPayload;
      try {
        payload = this.codec!.decode(bytes);
      } catch {
        return;
      }
      this.record('in', 'stream', connection.id, payload, bytes);
      if (payload.type === 'ConnectionSetupRequest') return this.setup(connection, call, payload);
      if (payload.type.endsWith('Response')) {
        if (payload.type === 'ClientDetectionResponse' && Number(payload.body.resultCode) === 200) connection.lastActive = Date.now();
        connection.answer(payload);
      }
      // Any other request on the stream is logged and dropped by Nacos: nothing to do.
    });
  }

  private setup(connection: GrpcTestConnection, call: GrpcJs.ServerDuplexStream<Buffer, Buffer>, payload: NacosPayload): void {
    if (this.starting) {
      // Nacos refuses to register a connection while starting and closes it.
      connection.socket.destroy();
      return;
    }
    const body = payload.body;
    connection.stream = call;
    connection.registered = true;
    connection.clientVersion = typeof body.clientVersion === 'string' ? body.clientVersion : '';
    connection.labels = (body.labels && typeof body.labels === 'object' ? body.labels : {}) as Record<string, string>;
    connection.naming = connection.labels.module === 'naming';
    connection.lastActive = Date.now();
    if (connection.naming) this.store.addClient(connection.clientId);
    if (body.abilityTable !== undefined && body.abilityTable !== null) {
      connection.abilityTable = body.abilityTable as Record<string, boolean>;
      connection.write({ type: 'SetupAckRequest', headers: {}, body: { headers: {}, abilityTable: ABILITIES, module: 'internal' } });
    }
  }

  /** Nacos's connection ejector: idle connections get ClientDetectionRequest; no answer drops them. */
  private detectIdle(): void {
    const now = Date.now();
    this.store.expire(now);
    for (const connection of this.connectionsByPeer.values()) {
      if (!connection.registered || now - connection.lastActive < this.options.idleTimeoutMs) continue;
      // Not detected again while this detection is in flight.
      connection.lastActive = now - this.options.idleTimeoutMs + this.options.detectionTimeoutMs + this.options.detectionIntervalMs;
      void this.detect(connection);
    }
  }

  /** Sends ClientDetectionRequest to every registered connection now, as the ejector does to idle ones. */
  async detectNow(): Promise<number> {
    const results = await Promise.all([...this.connectionsByPeer.values()].filter((c) => c.registered).map((c) => this.detect(c)));
    return results.filter(Boolean).length;
  }

  /** One detection: an answer refreshes the connection, silence drops it (the transport is closed). */
  private async detect(connection: GrpcTestConnection): Promise<boolean> {
    const answer = await connection.request(this.serverRequest('ClientDetectionRequest', {}), this.options.detectionTimeoutMs);
    if (answer?.type === 'ClientDetectionResponse' && Number(answer.body.resultCode) === 200) {
      connection.lastActive = Date.now();
      return true;
    }
    if (!connection.closed) connection.socket.destroy();
    return false;
  }

  private serverRequest(type: string, fields: Record<string, unknown>): NacosPayload {
    return { type, headers: {}, body: { headers: {}, requestId: String(++this.requestCounter), ...fields, module: 'internal' } };
  }

  private record(direction: 'in' | 'out', channel: 'unary' | 'stream', connectionId: string, payload: NacosPayload, bytes: Buffer): void {
    this.transcript.push({ direction, channel, connectionId, payload, bytes });
    if (this.transcript.length > 20_000) this.transcript.shift();
  }
}

function response(type: string, fields: Record<string, unknown>): NacosPayload {
  return { type, headers: {}, body: { resultCode: 200, errorCode: 0, ...fields, success: true } };
}

/** A filter's refusal: the handler's response type, resultCode 500, the reason in errorCode. */
function failure(type: string, errorCode: number, message: string): NacosPayload {
  return { type, headers: {}, body: { resultCode: 500, errorCode, message, success: false } };
}

/** ErrorResponse: built from a code (resultCode 500) or from an exception (resultCode = errorCode). */
function errorResponse(errorCode: number, message: string, resultCode = 500): NacosPayload {
  return { type: 'ErrorResponse', headers: {}, body: { resultCode, errorCode, message, success: false } };
}
