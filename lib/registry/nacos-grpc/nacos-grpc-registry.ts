import { nacosIdentity } from '../nacos-registry-options.js';
import type { TimerHandle } from '../../common/clock.js';
import { MissingDependencyError } from '../../errors/missing-dependency-error.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { ResolvedNacosRegistryOptions } from '../nacos-registry-options.js';
import { checkRegistration, type Registration } from '../registration.js';
import type { InstancesListener, Registry } from '../registry.js';
import type { ServiceInstance } from '../service-instance.js';
import { nacosInstanceOf } from '../nacos-instance.js';
import { loadGrpcModules, type GrpcModules } from './grpc-modules.js';
import { NacosAuth } from './nacos-auth.js';
import { NacosType, namingFields, type NacosInstanceJson, type NacosServiceInfoJson } from './nacos-messages.js';
import { NacosRpcClient, type NacosCall } from './nacos-rpc-client.js';
import { RegistrationRedo } from './registration-redo.js';
import { ServiceSubscriptions } from './service-subscriptions.js';

/**
 * {@link Registry} on Nacos 2.0+ through its native gRPC protocol.
 *
 * - Ephemeral instances live as long as this registry's connection: close() (or a crash) removes
 *   them from Nacos at once, and subscribers get a push.
 * - Every registration and subscription is redone on each new connection (a Nacos restart, a
 *   failover to another server of the list); a failed register() is kept and redone too, so the
 *   instance appears once Nacos is reachable, unless deregister() comes first.
 * - Pushes carry the full list and may be empty (the last instance left): listeners get `[]`, and
 *   the directory above decides what to do with it.
 * - While Nacos is unreachable, subscribed services keep their last list and queried ones their
 *   last answer; a service never seen fails with RegistryError.
 * - `@grpc/grpc-js` and `protobufjs` (optional peers) are imported on first use; a missing one
 *   fails every call with MissingDependencyError.
 */
export class NacosGrpcRegistry implements Registry {
  readonly kind = 'nacos';
  readonly identity: string;
  private readonly registrations: RegistrationRedo;
  private readonly subscriptions: ServiceSubscriptions;
  private readonly queried = new Map<string, ServiceInstance[]>();
  private modules: Promise<GrpcModules> | undefined;
  private client: Promise<NacosRpcClient> | undefined;
  /** The client once created (the modules are loaded on first use). */
  private rpc: NacosRpcClient | undefined;
  private redoTimer: TimerHandle | undefined;
  private closed = false;

  constructor(readonly options: ResolvedNacosRegistryOptions) {
    this.identity = nacosIdentity(options);
    const { namespace, logger } = options;
    this.registrations = new RegistrationRedo(
      namespace,
      async (call) => (await this.send(call)).onCurrent,
      logger,
      () => this.rpc?.current !== undefined,
    );
    this.subscriptions = new ServiceSubscriptions(namespace, options.discoveryClusters, (call) => this.send(call), logger);
  }

  /** @throws RegistryError when Nacos refuses or cannot be reached in time; the redo keeps trying. */
  async register(reg: Registration): Promise<void> {
    checkRegistration(reg);
    const group = reg.group ?? this.options.group;
    await this.run(`register ${label(group, reg)}`, () => this.registrations.register(group, reg.service, this.instance(reg)));
    this.options.logger.log(`nacos: registered ${label(group, reg)} in cluster ${reg.cluster ?? this.options.cluster}`);
  }

  /** @throws RegistryError when Nacos cannot be told; the instance is forgotten here either way. */
  async deregister(reg: Registration): Promise<void> {
    checkRegistration(reg);
    const group = reg.group ?? this.options.group;
    await this.run(`deregister ${label(group, reg)}`, () => this.registrations.deregister(group, reg.service, this.instance(reg)));
    this.options.logger.log(`nacos: deregistered ${label(group, reg)}`);
  }

  async subscribe(service: string, listener: InstancesListener, group = this.options.group): Promise<void> {
    await this.run(`subscribe ${group}@@${service}`, () => this.subscriptions.subscribe(group, service, listener));
  }

  async unsubscribe(service: string, listener: InstancesListener, group = this.options.group): Promise<void> {
    if (this.closed) return;
    await this.subscriptions.unsubscribe(group, service, listener);
  }

  /** The subscribed list when there is one, else a query (its last answer while Nacos is unreachable). */
  async getInstances(service: string, group = this.options.group): Promise<ServiceInstance[]> {
    const k = `${group}@@${service}`;
    const cached = this.subscriptions.cached(group, service);
    if (cached) return cached.map((i) => ({ ...i, metadata: { ...i.metadata } }));
    try {
      const { body } = await this.run(`query ${k}`, () =>
        this.send({
          type: NacosType.ServiceQueryRequest,
          response: NacosType.QueryServiceResponse,
          fields: { ...namingFields(this.options.namespace, group, service), cluster: '', healthyOnly: false, udpPort: 0 },
          secured: true,
        }),
      );
      const instances = this.subscriptions.instancesOf((body.serviceInfo ?? {}) as NacosServiceInfoJson);
      this.queried.set(k, instances);
      return instances;
    } catch (err) {
      const last = this.queried.get(k);
      if (last && !this.closed) return last;
      throw err;
    }
  }

  async isReachable(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const client = await this.start();
      return client.current !== undefined && (await client.ping());
    } catch {
      return false;
    }
  }

  /** Closes the connection: Nacos removes this registry's instances and subscriptions at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.redoTimer !== undefined) this.options.clock.clearTimeout(this.redoTimer);
    this.subscriptions.close();
    const client = await this.client?.catch(() => undefined);
    client?.close();
  }

  /**
   * Imports `@grpc/grpc-js` and `protobufjs` now, without connecting.
   * @throws MissingDependencyError naming the packages to install.
   */
  async loadDependencies(): Promise<void> {
    await (this.modules ??= loadGrpcModules());
  }

  private instance(reg: Registration): NacosInstanceJson {
    return nacosInstanceOf(reg, reg.cluster ?? this.options.cluster);
  }

  private start(): Promise<NacosRpcClient> {
    this.client ??= (async () => {
      const modules = await (this.modules ??= loadGrpcModules());
      const o = this.options;
      const auth =
        o.username !== undefined
          ? new NacosAuth(
              { username: o.username, password: o.password ?? '', servers: o.servers, tls: o.tls, loginTimeout: o.grpc.loginTimeout },
              o.clock,
              o.logger,
            )
          : undefined;
      const client = new NacosRpcClient(
        modules,
        {
          servers: o.servers,
          tls: o.tls,
          timings: o.grpc,
          labels: { source: 'sdk', module: 'naming', AppName: o.grpc.appName },
          headers: { app: o.grpc.appName },
        },
        auth,
        {
          onConnected: () => this.redo(),
          onDisconnected: () => {
            this.registrations.onDisconnected();
            this.subscriptions.onDisconnected();
          },
          onPush: (body) => this.subscriptions.onPush(body),
        },
        o.logger,
        o.clock,
      );
      if (this.closed) throw new RegistryError('Nacos registry is closed');
      this.rpc = client;
      client.start();
      this.armRedo();
      return client;
    })();
    return this.client;
  }

  private redo(): void {
    this.registrations.redo();
    this.subscriptions.redo();
  }

  /** The redo tick: what failed to sync is re-sent while connected (the Java client's 3 s task). */
  private armRedo(): void {
    if (this.closed) return;
    this.redoTimer = this.options.clock.setTimeout(() => {
      void this.client?.then((c) => {
        if (c.current) this.redo();
      });
      this.armRedo();
    }, this.options.grpc.redoInterval);
  }

  private async send(call: NacosCall): Promise<{ body: Record<string, unknown>; onCurrent: boolean }> {
    const client = await this.start();
    return client.request(call);
  }

  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryError('Nacos registry is closed');
    try {
      return await op();
    } catch (err) {
      if (err instanceof RegistryError && /closed$/.test(err.message)) throw err;
      // A configuration fault, not an outage: it keeps its type and its `npm install` advice.
      if (err instanceof MissingDependencyError) throw err;
      const servers = this.options.servers.map((s) => `${s.host}:${s.grpcPort}`).join(',');
      throw new RegistryError(`Nacos ${what} failed (servers ${servers}): ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }
}

function label(group: string, reg: Registration): string {
  return `${group}@@${reg.service} ${reg.host}:${reg.port}`;
}
