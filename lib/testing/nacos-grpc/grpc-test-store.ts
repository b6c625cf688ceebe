import type { NacosInstanceSpec } from '../../registry/nacos-instance.js';
import { DEFAULT_CLUSTER } from '../nacos-test-store.js';

/** An instance as a connection published it (Nacos's `Instance`, instanceId filled by the server). */
export interface GrpcStoredInstance extends NacosInstanceSpec {
  instanceId: string;
  serviceName: string;
}

/** Where a change happened: `namespace` and the grouped service name `GROUP@@svc`. */
export type ServiceChangeListener = (namespace: string, groupedService: string) => void;

interface ClientEntry {
  /** `namespace|GROUP@@svc` -> the connection's one publish for that service. */
  publishes: Map<string, GrpcStoredInstance[]>;
  /** Set when the node that owned the client stopped: the copy lingers until then. */
  expiresAt: number | undefined;
}

/**
 * Naming state shared by the nodes of a test cluster, as Nacos's distro replication gives every
 * node every client's publishes: clients (one per connection, keyed `node/connectionId`) each hold
 * one publish per service, and a service's instances are the union over clients. Every change is
 * reported to every node, which pushes to its own subscribers.
 */
export class NacosGrpcTestStore {
  private readonly clients = new Map<string, ClientEntry>();
  private readonly listeners = new Set<ServiceChangeListener>();

  onChange(listener: ServiceChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addClient(clientId: string): void {
    if (!this.clients.has(clientId)) this.clients.set(clientId, { publishes: new Map(), expiresAt: undefined });
  }

  hasClient(clientId: string): boolean {
    return this.clients.has(clientId);
  }

  /** Replaces the client's publish for the service (one per connection and service, as in Nacos). */
  publish(clientId: string, namespace: string, service: string, instances: GrpcStoredInstance[]): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`no client ${clientId}`);
    client.publishes.set(`${namespace}|${service}`, instances);
    this.changed(namespace, service);
  }

  /** Removes the client's publish for the service, whatever instance the request named. */
  unpublish(clientId: string, namespace: string, service: string): void {
    if (this.clients.get(clientId)?.publishes.delete(`${namespace}|${service}`)) this.changed(namespace, service);
  }

  /** The connection is gone: its publishes go, and their services change. */
  removeClient(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    this.clients.delete(clientId);
    for (const key of client.publishes.keys()) this.changed(...split(key));
  }

  /** A node stopped: its clients' copies linger until `at`, then expire. */
  orphanClients(prefix: string, at: number): void {
    for (const [id, client] of this.clients) if (id.startsWith(prefix)) client.expiresAt = at;
  }

  /** Drops clients whose copies expired. */
  expire(now: number): void {
    for (const [id, client] of this.clients) if (client.expiresAt !== undefined && client.expiresAt <= now) this.removeClient(id);
  }

  /** Forgets every client whose id starts with `prefix` without pushing (a node restarted empty). */
  wipe(prefix = ''): void {
    for (const id of [...this.clients.keys()]) if (id.startsWith(prefix)) this.clients.delete(id);
  }

  /** Instances of a service, deduplicated by ip:port (the latest publish wins). */
  instances(namespace: string, service: string): GrpcStoredInstance[] {
    const byAddress = new Map<string, GrpcStoredInstance>();
    for (const client of this.clients.values()) {
      for (const instance of client.publishes.get(`${namespace}|${service}`) ?? []) byAddress.set(`${instance.ip}:${instance.port}`, instance);
    }
    return [...byAddress.values()];
  }

  /** Ids of the clients (`node/connectionId#n`) that publish instances of the service. */
  publishers(namespace: string, service: string): string[] {
    return this.publications(namespace, service).map((p) => p.clientId);
  }

  /** Each client's publish of the service (with whether its node is gone and the copy lingers). */
  publications(namespace: string, service: string): Array<{ clientId: string; orphan: boolean; ports: number[] }> {
    return [...this.clients]
      .map(([clientId, c]) => ({ clientId, orphan: c.expiresAt !== undefined, ports: (c.publishes.get(`${namespace}|${service}`) ?? []).map((i) => i.port) }))
      .filter((p) => p.ports.length > 0);
  }

  /** Grouped names of every service with a publish in the namespace. */
  services(namespace: string): string[] {
    const names = new Set<string>();
    for (const client of this.clients.values()) {
      for (const [key, instances] of client.publishes) {
        const [ns, service] = split(key);
        if (ns === namespace && instances.length > 0) names.add(service);
      }
    }
    return [...names].sort();
  }

  private changed(namespace: string, service: string): void {
    for (const listener of [...this.listeners]) listener(namespace, service);
  }
}

/** Nacos's ServiceInfo of a service, disabled instances filtered out, `clusters` echoed. */
export function serviceInfoJson(store: NacosGrpcTestStore, namespace: string, service: string, clusters: string, healthyOnly: boolean, now: number) {
  const [groupName, name] = service.split('@@');
  const wanted = clusters.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
  const hosts = store
    .instances(namespace, service)
    .filter((i) => i.enabled && (!healthyOnly || i.healthy))
    .filter((i) => wanted.length === 0 || wanted.includes(i.clusterName || DEFAULT_CLUSTER))
    .map((i) => ({ ...i, metadata: { ...i.metadata } }));
  return {
    name,
    groupName,
    clusters,
    cacheMillis: 10_000,
    hosts,
    lastRefTime: now,
    checksum: '',
    allIps: false,
    reachProtectionThreshold: false,
    valid: true,
  };
}

function split(key: string): [string, string] {
  const i = key.indexOf('|');
  return [key.slice(0, i), key.slice(i + 1)];
}
