import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostPort } from '../common/host-port.js';
import { NacosTestAuth } from './nacos-test-auth.js';
import {
  resolveNacosTestServerOptions,
  type NacosTestServerOptions,
  type ResolvedNacosTestServerOptions,
} from './nacos-test-server-options.js';
import { NacosTestPusher, type PushRecord } from './nacos-test-push.js';
import { BadRequest, NacosParams, send, stringMetadata } from './nacos-test-params.js';
import {
  DEFAULT_CLUSTER,
  NacosTestStore,
  groupedName,
  namespaceOf,
  type StoredInstance,
} from './nacos-test-store.js';

export type { PushRecord } from './nacos-test-push.js';
export type { StoredInstance } from './nacos-test-store.js';
export type { NacosTestServerOptions } from './nacos-test-server-options.js';

interface BeatPayload {
  serviceName?: string;
  ip?: string;
  port?: number;
  cluster?: string;
  weight?: number;
  metadata?: Record<string, unknown>;
}

/** Where a service lives: its group (`DEFAULT_GROUP` when omitted) and namespace (`public`). */
export interface NacosTestScope {
  group?: string;
  namespace?: string;
}

const MAX_LOGGED_REQUESTS = 1000;

/**
 * Protocol-level stand-in for a Nacos 1.x/2.x server, speaking the v1 naming HTTP API used by the
 * `nacos` npm client: register, deregister, update,
 * beat (with re-registration from the beat payload), list, metrics, login; ephemeral health expiry;
 * UDP push with acks to loopback subscribers. Listens on loopback only.
 */
export class NacosTestServer {
  /** Every request, oldest first (capped), for assertions about what the client sent. */
  readonly requests: Array<{ method: string; path: string; params: Record<string, string> }> = [];
  private readonly counts = new Map<string, number>();
  private readonly options: ResolvedNacosTestServerOptions;
  private readonly store: NacosTestStore;
  private readonly pusher: NacosTestPusher;
  private readonly pushTimers = new Map<string, NodeJS.Timeout>();
  private readonly auth: NacosTestAuth;
  private server: http.Server | undefined;
  private checker: NodeJS.Timeout | undefined;
  private boundPort: number;

  constructor(options: NacosTestServerOptions = {}) {
    this.options = resolveNacosTestServerOptions(options);
    this.boundPort = this.options.port;
    this.auth = new NacosTestAuth(options.username, options.password);
    this.store = new NacosTestStore(this.options, (ns, service) => this.schedulePush(ns, service));
    // Real Nacos drops a push client that has not refreshed for a while; polling refreshes it.
    this.pusher = new NacosTestPusher(Math.max(10_000, 3 * this.options.cacheMillis));
  }

  get port(): number {
    return this.boundPort;
  }

  /** `host:port`, ready for the client's `serverList`. */
  get address(): string {
    return hostPort(this.options.host, this.boundPort);
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /**
   * Starts, or restarts on the same port after {@link stop}. By default the state survives (a network
   * outage); `wipe: true` simulates a Nacos restart, which loses every ephemeral instance. With kept
   * state the last-beat times are not refreshed, so an outage longer than the timeouts expires instances.
   */
  async start(opts: { wipe?: boolean } = {}): Promise<void> {
    if (this.server) throw new Error('NacosTestServer already running');
    if (opts.wipe) {
      this.store.clear();
      this.pusher.reset();
      this.auth.reset();
    }
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.checker = setInterval(() => this.store.sweep(Date.now()), this.options.checkIntervalMs);
    this.checker.unref();
  }

  /** Closes the HTTP server (keep-alive sockets included), the UDP sockets and every timer. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    clearInterval(this.checker);
    this.checker = undefined;
    for (const timer of this.pushTimers.values()) clearTimeout(timer);
    this.pushTimers.clear();
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.pusher.close();
  }

  /** Instances as stored (disabled and unhealthy ones included). */
  instances(service: string, scope: NacosTestScope = {}): StoredInstance[] {
    return this.store.list(namespaceOf(scope.namespace), groupedName(service, scope.group)).map((i) => ({ ...i }));
  }

  /** Whether a token from this server's login is valid (lets a gRPC test server share the login). */
  acceptsToken(token: string): boolean {
    return this.auth.accepts(token);
  }

  subscriberCount(service: string, scope: NacosTestScope = {}): number {
    return this.pusher.subscriberCount(namespaceOf(scope.namespace), groupedName(service, scope.group));
  }

  get pushes(): readonly PushRecord[] {
    return this.pusher.pushes;
  }

  get ackCount(): number {
    return this.pusher.ackCount;
  }

  /** Requests served (or rejected) for one `METHOD /path`, e.g. `requestCount('PUT', '/nacos/v1/ns/instance/beat')`. */
  requestCount(method: string, path: string): number {
    return this.counts.get(`${method.toUpperCase()} ${path}`) ?? 0;
  }

  resetRequestLog(): void {
    this.counts.clear();
    this.requests.length = 0;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://nacos.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const key = `${method} ${url.pathname}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    try {
      const params = await NacosParams.read(req, url);
      this.log(method, url.pathname, params);
      if (url.pathname === '/nacos/v1/auth/login' || url.pathname === '/nacos/v1/auth/users/login') {
        return this.auth.login(res, params);
      }
      if (url.pathname.startsWith('/nacos/v1/ns/') && !this.auth.authorized(req, params)) {
        return this.auth.reject(res);
      }
      const namespace = namespaceOf(params.get('namespaceId'));
      switch (key) {
        case 'POST /nacos/v1/ns/instance':
          return this.register(res, params, namespace);
        case 'PUT /nacos/v1/ns/instance':
          return this.update(res, params, namespace);
        case 'DELETE /nacos/v1/ns/instance':
          this.store.remove(namespace, this.serviceParam(params), params.required('ip'), params.int('port'));
          return send(res, 200, 'ok');
        case 'PUT /nacos/v1/ns/instance/beat':
          return this.beat(res, params, namespace);
        case 'GET /nacos/v1/ns/instance/list':
          return this.list(req, res, params, namespace);
        case 'GET /nacos/v1/ns/operator/metrics':
          return send(res, 200, { status: 'UP' });
        default:
          return send(res, 404, `no handler for ${key}`);
      }
    } catch (err) {
      if (err instanceof BadRequest) return send(res, 400, err.message);
      send(res, 500, String(err));
    }
  }

  private register(res: http.ServerResponse, params: NacosParams, namespace: string): void {
    const weight = params.number('weight', 1);
    if (weight < 0 || weight > 10_000) throw new BadRequest('instance format invalid: The weights range from 0.0 to 10000.0');
    this.store.upsert(namespace, this.serviceParam(params), {
      ip: params.required('ip'),
      port: params.int('port'),
      weight,
      healthy: params.bool('healthy', true),
      // 1.x/2.x read `enabled` and fall back to the older `enable`, which is what the node client sends.
      enabled: params.bool('enabled', params.bool('enable', true)),
      ephemeral: params.bool('ephemeral', true),
      clusterName: params.get('clusterName') || DEFAULT_CLUSTER,
      metadata: stringMetadata(params.json('metadata')),
      lastBeat: Date.now(),
    });
    send(res, 200, 'ok');
  }

  private update(res: http.ServerResponse, params: NacosParams, namespace: string): void {
    const service = this.serviceParam(params);
    const current = this.store.find(namespace, service, params.required('ip'), params.int('port'));
    if (!current) throw new BadRequest(`instance not exist: ${params.get('ip')}:${params.get('port')}`);
    const metadata = params.json('metadata');
    this.store.upsert(namespace, service, {
      ...current,
      weight: params.number('weight', current.weight),
      enabled: params.bool('enabled', params.bool('enable', current.enabled)),
      clusterName: params.get('clusterName') || current.clusterName,
      metadata: metadata === undefined ? current.metadata : stringMetadata(metadata),
    });
    send(res, 200, 'ok');
  }

  /** Nacos 2.x InstanceController#beat: an unknown instance is re-registered from a full beat payload. */
  private beat(res: http.ServerResponse, params: NacosParams, namespace: string): void {
    const beat = params.json<BeatPayload>('beat');
    const rawService = params.get('serviceName') ?? beat?.serviceName;
    if (!rawService) throw new BadRequest("Param 'serviceName' is required.");
    const service = groupedName(rawService, params.get('groupName'));
    const ip = params.get('ip') ?? beat?.ip;
    const port = params.get('port') !== undefined ? params.int('port') : Number(beat?.port);
    if (!ip || !Number.isInteger(port)) throw new BadRequest("Param 'ip' and 'port' are required.");
    let instance = this.store.find(namespace, service, ip, port);
    if (!instance && beat) {
      this.store.upsert(namespace, service, {
        ip,
        port,
        weight: Number(beat.weight ?? 1),
        healthy: true,
        enabled: true,
        ephemeral: true,
        clusterName: params.get('clusterName') || beat.cluster || DEFAULT_CLUSTER,
        metadata: stringMetadata(beat.metadata),
        lastBeat: Date.now(),
      });
      instance = this.store.find(namespace, service, ip, port);
    } else if (instance) {
      this.store.touch(instance, namespace, service, Date.now());
    }
    send(res, 200, {
      clientBeatInterval: this.store.beatIntervalFor(instance),
      code: instance ? 10200 : 20404,
      lightBeatEnabled: true,
    });
  }

  private list(req: http.IncomingMessage, res: http.ServerResponse, params: NacosParams, namespace: string): void {
    const service = this.serviceParam(params);
    const clusters = params.get('clusters') ?? '';
    const now = Date.now();
    const udpPort = params.int('udpPort', 0);
    if (udpPort > 0) this.pusher.track({ namespace, service, clusters, port: udpPort }, req.socket.remoteAddress, now);
    send(res, 200, this.store.serviceInfo(namespace, service, clusters, params.bool('healthyOnly', false), now));
  }

  private serviceParam(params: NacosParams): string {
    return groupedName(params.required('serviceName'), params.get('groupName'));
  }

  private schedulePush(namespace: string, service: string): void {
    const key = `${namespace}|${service}`;
    if (!this.server || this.pushTimers.has(key)) return;
    const timer = setTimeout(() => {
      this.pushTimers.delete(key);
      const now = Date.now();
      this.pusher.push(namespace, service, now, (clusters) => this.store.serviceInfo(namespace, service, clusters, false, now));
    }, this.options.pushDelayMs);
    timer.unref();
    this.pushTimers.set(key, timer);
  }

  private log(method: string, path: string, params: NacosParams): void {
    this.requests.push({ method, path, params: params.toObject() });
    if (this.requests.length > MAX_LOGGED_REQUESTS) this.requests.shift();
  }
}
