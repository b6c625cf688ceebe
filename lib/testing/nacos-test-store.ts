/**
 * In-memory naming state of the Nacos test server: namespaces → grouped services → instances,
 * with the ephemeral-instance health rules of a real Nacos 2.x server. Pure state plus one
 * `sweep(now)` entry point; timers live in the server so this stays easy to reason about.
 */

import type { NacosInstanceSpec } from '../registry/nacos-instance.js';

export const DEFAULT_GROUP = 'DEFAULT_GROUP';
export const DEFAULT_CLUSTER = 'DEFAULT';
export const DEFAULT_NAMESPACE = 'public';
const HEART_BEAT_TIMEOUT_KEY = 'preserved.heart.beat.timeout';
const IP_DELETE_TIMEOUT_KEY = 'preserved.ip.delete.timeout';
const HEART_BEAT_INTERVAL_KEY = 'preserved.heart.beat.interval';

/** An instance as the server keeps it: Nacos's `Instance` and when it last sent a beat. */
export interface StoredInstance extends NacosInstanceSpec {
  lastBeat: number;
}

/** One host as the real server serialises it (Jackson on `com.alibaba.nacos.api.naming.pojo.Instance`). */
export interface HostJson extends NacosInstanceSpec {
  instanceId: string;
  serviceName: string;
  instanceHeartBeatInterval: number;
  instanceHeartBeatTimeOut: number;
  ipDeleteTimeout: number;
  instanceIdGenerator: string;
}

export interface ServiceInfoJson {
  name: string;
  groupName: string;
  clusters: string;
  cacheMillis: number;
  hosts: HostJson[];
  lastRefTime: number;
  checksum: string;
  allIPs: boolean;
  reachProtectionThreshold: boolean;
  valid: boolean;
}

export interface StoreTimings {
  heartbeatTimeoutMs: number;
  deleteTimeoutMs: number;
  clientBeatIntervalMs: number;
  cacheMillis: number;
}

/** A service changed: the server schedules a push for it. */
export type ChangeListener = (namespace: string, groupedName: string) => void;

/** `GROUP@@svc`; a name that already carries a group is kept as is. */
export function groupedName(serviceName: string, groupName?: string): string {
  return serviceName.includes('@@') ? serviceName : `${groupName || DEFAULT_GROUP}@@${serviceName}`;
}

export function namespaceOf(namespaceId: string | undefined): string {
  return namespaceId || DEFAULT_NAMESPACE;
}

export class NacosTestStore {
  private readonly namespaces = new Map<string, Map<string, Map<string, StoredInstance>>>();

  constructor(
    private readonly timings: StoreTimings,
    private readonly onChange: ChangeListener,
  ) {}

  clear(): void {
    this.namespaces.clear();
  }

  upsert(namespace: string, service: string, instance: StoredInstance): void {
    const instances = this.serviceMap(namespace, service, true)!;
    const key = `${instance.ip}:${instance.port}`;
    const previous = instances.get(key);
    instances.set(key, instance);
    if (!previous || !sameVisibleState(previous, instance)) this.onChange(namespace, service);
  }

  /** Nacos 2 keys an ephemeral client by ip:port; the cluster of a delete request is not consulted. */
  remove(namespace: string, service: string, ip: string, port: number): boolean {
    const instances = this.serviceMap(namespace, service, false);
    if (!instances?.delete(`${ip}:${port}`)) return false;
    this.onChange(namespace, service);
    return true;
  }

  find(namespace: string, service: string, ip: string, port: number): StoredInstance | undefined {
    return this.serviceMap(namespace, service, false)?.get(`${ip}:${port}`);
  }

  /** A beat refreshes the instance and brings an unhealthy one back (which is a visible change). */
  touch(instance: StoredInstance, namespace: string, service: string, now: number): void {
    instance.lastBeat = now;
    if (!instance.healthy) {
      instance.healthy = true;
      this.onChange(namespace, service);
    }
  }

  list(namespace: string, service: string): StoredInstance[] {
    return [...(this.serviceMap(namespace, service, false)?.values() ?? [])];
  }

  /** Beat interval the server dictates to this instance (Nacos 2 honours the per-instance metadata key). */
  beatIntervalFor(instance: StoredInstance | undefined): number {
    return metadataMs(instance?.metadata, HEART_BEAT_INTERVAL_KEY) ?? this.timings.clientBeatIntervalMs;
  }

  /**
   * Ephemeral health rules: unhealthy after the heartbeat timeout, removed after the delete timeout
   * (both measured from the last beat or registration). Persistent instances are left alone.
   */
  sweep(now: number): void {
    for (const [namespace, services] of this.namespaces) {
      for (const [service, instances] of services) {
        let changed = false;
        for (const [key, instance] of instances) {
          if (!instance.ephemeral) continue;
          const silentFor = now - instance.lastBeat;
          if (silentFor > this.deleteTimeout(instance)) {
            instances.delete(key);
            changed = true;
          } else if (instance.healthy && silentFor > this.heartbeatTimeout(instance)) {
            instance.healthy = false;
            changed = true;
          }
        }
        if (changed) this.onChange(namespace, service);
      }
    }
  }

  /**
   * The ServiceInfo document of `/instance/list` (and of UDP pushes): `clusters` is echoed exactly as
   * asked, since the client keys its cache on it; disabled hosts are dropped as the real server does.
   */
  serviceInfo(namespace: string, service: string, clusters: string, healthyOnly: boolean, now: number): ServiceInfoJson {
    const wanted = clusters.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
    const hosts = this.list(namespace, service)
      .filter((i) => i.enabled)
      .filter((i) => wanted.length === 0 || wanted.includes(i.clusterName))
      .filter((i) => !healthyOnly || i.healthy)
      .map((i) => this.hostJson(service, i));
    return {
      name: service,
      groupName: service.split('@@')[0],
      clusters,
      cacheMillis: this.timings.cacheMillis,
      hosts,
      lastRefTime: now,
      checksum: '',
      allIPs: false,
      reachProtectionThreshold: false,
      valid: true,
    };
  }

  private hostJson(service: string, i: StoredInstance): HostJson {
    return {
      instanceId: `${i.ip}#${i.port}#${i.clusterName}#${service}`,
      ip: i.ip,
      port: i.port,
      weight: i.weight,
      healthy: i.healthy,
      enabled: i.enabled,
      ephemeral: i.ephemeral,
      clusterName: i.clusterName,
      serviceName: service,
      metadata: { ...i.metadata },
      instanceHeartBeatInterval: this.beatIntervalFor(i),
      instanceHeartBeatTimeOut: this.heartbeatTimeout(i),
      ipDeleteTimeout: this.deleteTimeout(i),
      instanceIdGenerator: 'simple',
    };
  }

  private heartbeatTimeout(i: StoredInstance): number {
    return metadataMs(i.metadata, HEART_BEAT_TIMEOUT_KEY) ?? this.timings.heartbeatTimeoutMs;
  }

  private deleteTimeout(i: StoredInstance): number {
    return metadataMs(i.metadata, IP_DELETE_TIMEOUT_KEY) ?? this.timings.deleteTimeoutMs;
  }

  private serviceMap(namespace: string, service: string, create: boolean): Map<string, StoredInstance> | undefined {
    let services = this.namespaces.get(namespace);
    if (!services) {
      if (!create) return undefined;
      services = new Map();
      this.namespaces.set(namespace, services);
    }
    let instances = services.get(service);
    if (!instances && create) {
      instances = new Map();
      services.set(service, instances);
    }
    return instances;
  }
}

function metadataMs(metadata: Record<string, string> | undefined, key: string): number | undefined {
  const raw = metadata?.[key];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function sameVisibleState(a: StoredInstance, b: StoredInstance): boolean {
  return (
    a.weight === b.weight &&
    a.healthy === b.healthy &&
    a.enabled === b.enabled &&
    a.clusterName === b.clusterName &&
    a.ephemeral === b.ephemeral &&
    JSON.stringify(a.metadata) === JSON.stringify(b.metadata)
  );
}
