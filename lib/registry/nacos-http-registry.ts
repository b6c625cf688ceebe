import { nacosIdentity } from './nacos-registry-options.js';
import { RegistryError } from '../errors/registry-error.js';
import {
  createNamingClient,
  describe as describeError,
  loadNacosPackage,
  type NacosModule,
  type NacosHost,
  type NacosSubscribeInfo,
  type NamingClient,
} from './nacos-naming-client.js';
import { InstanceFeed } from './instance-feed.js';
import { nacosInstanceOf, toServiceInstance } from './nacos-instance.js';
import type { ResolvedNacosRegistryOptions } from './nacos-registry-options.js';
import { checkRegistration, type Registration } from './registration.js';
import type { InstancesListener, Registry } from './registry.js';
import type { ServiceInstance } from './service-instance.js';

interface Subscription {
  info: NacosSubscribeInfo;
  feed: InstanceFeed;
  onHosts: (hosts: NacosHost[]) => void;
  ready: Promise<void>;
}

/**
 * {@link Registry} on Nacos's v1 HTTP API, through the `nacos` npm client (ephemeral instances kept
 * alive by beats): `protocol: 'http'` of {@link NacosRegistry}.
 *
 * What the client does, and therefore what this registry reports:
 * - It never delivers an empty host list: when the last instance of a service goes away, listeners
 *   are not called and getInstances() keeps returning the last non-empty list. Liveness of the last
 *   provider must come from the transport; the directory layer handles emptiness and staleness.
 * - It keeps everything in memory, with no failover file: while Nacos is unreachable, known services
 *   keep their last list and a never-fetched one reads as `[]`; polling and beats retry forever.
 * - A failed register() leaves the client beating for the instance, so it appears by itself once
 *   Nacos is reachable again (the server re-registers from the beat payload); deregister() stops that.
 * - close() does not deregister: call deregister() first on a graceful shutdown.
 *
 * The `nacos` package is an optional peer, imported (and the client created) on first use; a missing
 * one fails every call with MissingDependencyError.
 */
export class NacosHttpRegistry implements Registry {
  readonly kind = 'nacos';
  readonly identity: string;
  private nacos: Promise<NacosModule> | undefined;
  /** Created on first use, once `nacos` is loaded. */
  private client: Promise<NamingClient> | undefined;
  private readonly clusters: string;
  /** First fetch of each service, shared: two concurrent first fetches make the client wait 30 s. */
  private readonly firstFetches = new Map<string, Promise<void>>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(readonly options: ResolvedNacosRegistryOptions) {
    this.identity = nacosIdentity(options);
    this.clusters = this.options.discoveryClusters.join(',');
  }

  /** @throws RegistryError when Nacos refuses or cannot be reached (the cause carries the client's error). */
  async register(reg: Registration): Promise<void> {
    checkRegistration(reg);
    const group = reg.group ?? this.options.group;
    const cluster = reg.cluster ?? this.options.cluster;
    await this.run(`register ${label(group, reg)}`, (client) =>
      client.registerInstance(reg.service, nacosInstanceOf(reg, cluster), group),
      false,
    );
    this.options.logger.log(`nacos: registered ${label(group, reg)} in cluster ${cluster}`);
  }

  /** @throws RegistryError when Nacos cannot be told; beats for the instance stop either way. */
  async deregister(reg: Registration): Promise<void> {
    checkRegistration(reg);
    const group = reg.group ?? this.options.group;
    const clusterName = reg.cluster ?? this.options.cluster;
    await this.run(`deregister ${label(group, reg)}`, (client) =>
      client.deregisterInstance(reg.service, { ip: reg.host, port: reg.port, clusterName, ephemeral: true }, group),
      false,
    );
    this.options.logger.log(`nacos: deregistered ${label(group, reg)}`);
  }

  /** The client's cached list for the service (fetched once, then kept fresh by polling and pushes). */
  async getInstances(service: string, group = this.options.group): Promise<ServiceInstance[]> {
    return (await this.fetch(service, group)).map(toServiceInstance);
  }

  /**
   * Calls `listener` with the current list (possibly `[]` for an unknown service), then with the full
   * list on every change Nacos reports by push or poll — except a change to "no instances", which the
   * client never delivers (see the class comment).
   */
  async subscribe(service: string, listener: InstancesListener, group = this.options.group): Promise<void> {
    this.assertOpen();
    const key = `${group}@@${service}`;
    const sub = this.subscriptions.get(key) ?? this.openSubscription(key, service, group);
    await sub.ready;
    if (this.closing) return;
    // Its last listener left while this one waited: the subscription is gone, open a fresh one.
    if (this.subscriptions.get(key) !== sub) return this.subscribe(service, listener, group);
    sub.feed.listeners.add(listener);
    sub.feed.deliver(listener);
  }

  async unsubscribe(service: string, listener: InstancesListener, group = this.options.group): Promise<void> {
    const key = `${group}@@${service}`;
    const sub = this.subscriptions.get(key);
    if (!sub) return;
    sub.feed.listeners.delete(listener);
    if (sub.feed.listeners.size > 0) return;
    this.subscriptions.delete(key);
    await sub.ready.catch(() => undefined);
    // The client keeps polling a service it has fetched once; only the notification stops here.
    (await this.createdClient())?.unSubscribe(sub.info, sub.onHosts);
  }

  async isReachable(): Promise<boolean> {
    if (this.closing) return false;
    try {
      const client = await this.naming();
      return (await this.track(client.getServerStatus())) === 'UP';
    } catch {
      return false;
    }
  }

  /** Stops notifications, polling, beats and the push socket. Does not deregister anything. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const subs = [...this.subscriptions.values()];
    this.subscriptions.clear();
    const client = await this.createdClient();
    for (const sub of subs) {
      sub.feed.listeners.clear();
      await sub.ready.catch(() => undefined);
      client?.unSubscribe(sub.info, sub.onHosts);
    }
    // A call still in flight could re-arm the client's polling timer after close; let it finish first.
    await Promise.allSettled([...this.inflight]);
    await client?.close();
  }

  private openSubscription(key: string, service: string, group: string): Subscription {
    const sub: Subscription = {
      info: { serviceName: service, groupName: group, clusters: this.clusters },
      feed: new InstanceFeed(`nacos ${key}`, this.options.logger),
      onHosts: (hosts) => this.onHosts(sub, hosts),
      ready: Promise.resolve(),
    };
    sub.ready = (async () => {
      sub.feed.apply((await this.fetch(service, group)).map(toServiceInstance));
      // The client calls back at once with the cached hosts; the feed drops it as unchanged.
      (await this.naming()).subscribe(sub.info, sub.onHosts);
    })();
    sub.ready.catch(() => {
      if (this.subscriptions.get(key) === sub) this.subscriptions.delete(key);
    });
    this.subscriptions.set(key, sub);
    return sub;
  }

  private onHosts(sub: Subscription, hosts: NacosHost[]): void {
    sub.feed.publish(hosts.map(toServiceInstance));
  }

  private async fetch(service: string, group: string): Promise<NacosHost[]> {
    this.assertOpen();
    const key = `${group}@@${service}`;
    let first = this.firstFetches.get(key);
    if (!first) {
      first = this.run(`list ${key}`, (client) => client.getAllInstances(service, group, this.clusters, true)).then(
        () => undefined,
      );
      first.catch(() => this.firstFetches.delete(key));
      this.firstFetches.set(key, first);
    }
    await first;
    // Served from the client's cache (refreshed by polling and pushes) once the first fetch is done.
    return this.run(`list ${key}`, (client) => client.getAllInstances(service, group, this.clusters, true));
  }

  /**
   * `heldByClose`: close() waits for the call. Only reads need it (a list call in flight could re-arm
   * the client's polling after close); a register or deregister cannot, and against a Nacos that
   * accepts and never answers it would hold close() for the client's request timeout (5 s) per server.
   */
  private async run<T>(what: string, call: (client: NamingClient) => Promise<T>, heldByClose = true): Promise<T> {
    this.assertOpen();
    const client = await this.naming();
    this.assertOpen();
    try {
      await this.track(client.ready());
      return await (heldByClose ? this.track(call(client)) : call(client));
    } catch (err) {
      const servers = this.options.serverList.join(',');
      throw new RegistryError(`Nacos ${what} failed (servers ${servers}): ${describeError(err)}`, { cause: err });
    }
  }

  /**
   * Imports `nacos` now, without creating the client or contacting Nacos.
   * @throws MissingDependencyError saying to `npm install nacos`.
   */
  async loadDependencies(): Promise<void> {
    await (this.nacos ??= loadNacosPackage());
  }

  /** The naming client, created on first use. @throws MissingDependencyError when `nacos` is missing. */
  private naming(): Promise<NamingClient> {
    this.client ??= (async () => {
      const nacos = await (this.nacos ??= loadNacosPackage());
      const { serverList, namespace, username, password, tls, logger, clock } = this.options;
      return createNamingClient(nacos, { serverList, namespace, username, password, ssl: tls === true }, logger, clock);
    })();
    return this.client;
  }

  /** The client if one was created (close() and unsubscribe() never create one). */
  private async createdClient(): Promise<NamingClient | undefined> {
    return this.client?.catch(() => undefined);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    const done = () => this.inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  private assertOpen(): void {
    if (this.closing) throw new RegistryError('Nacos registry is closed');
  }
}

function label(group: string, reg: Registration): string {
  return `${group}@@${reg.service} ${reg.host}:${reg.port}`;
}
