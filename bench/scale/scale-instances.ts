/**
 * A large service as a Nacos registry delivers it to a consumer: a ServiceInfo JSON push decoded
 * (fresh strings per push, as the gRPC client's JSON.parse makes them), each host turned into a
 * ServiceInstance by the library's own `toServiceInstance`, and a copy per listener (as
 * InstanceFeed.deliver hands one out). Metadata is what MsRpcServer registers.
 */
import { toServiceInstance, type NacosHost } from '../../lib/registry/nacos-instance.js';
import type { ServiceInstance } from '../../lib/registry/service-instance.js';

/** Request patterns per provider: a provider module of typical size. */
export const PATTERNS_PER_PROVIDER = 20;
const MINUTE = 60_000;

export interface ProviderSpec {
  readonly ip: string;
  readonly port: number;
  /** Which pattern set it serves (its shard); every provider of a homogeneous service has shard 0. */
  readonly shard: number;
  /** Wall time it registered (its `startTime` metadata). */
  readonly startTime: number;
}

/** The patterns a provider of `shard` serves: `orders-<shard>.m<k>`. */
export function shardPatterns(shard: number): string[] {
  return Array.from({ length: PATTERNS_PER_PROVIDER }, (_, k) => `orders-${shard}.method${k}`);
}

export function shardEvents(shard: number): string[] {
  return [`orders-${shard}.changed`, `orders-${shard}.audit`];
}

/** The n-th address of the service (10.x.y.z:8080), stable across pushes. */
export function providerIp(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * `count` providers; `shards` > 1 splits them into groups serving different patterns (provider i
 * in shard i % shards); `warmingShare` of them started within the last minute (a rolling deploy),
 * the others an hour ago.
 */
export function serviceSpecs(count: number, options: { shards?: number; warmingShare?: number; now?: number } = {}): ProviderSpec[] {
  const now = options.now ?? Date.now();
  const shards = options.shards ?? 1;
  const warmingEvery = options.warmingShare ? Math.round(1 / options.warmingShare) : 0;
  return Array.from({ length: count }, (_, i) => ({
    ip: providerIp(i + 1),
    port: 8080,
    shard: i % shards,
    startTime: warmingEvery && i % warmingEvery === 0 ? now - (i % 50) * 1000 : now - 60 * MINUTE,
  }));
}

/**
 * The next push: `changedShare` of the entries change, half of them replaced by new providers
 * (scaled in and out: new addresses, just started) and half re-registered on the same address
 * (restarted: a new `startTime`).
 */
export function nextPush(specs: readonly ProviderSpec[], changedShare: number, round: number, now = Date.now()): ProviderSpec[] {
  const changed = Math.round(specs.length * changedShare);
  const replaced = Math.floor(changed / 2);
  const step = Math.max(1, Math.floor(specs.length / changed));
  const next = [...specs];
  for (let k = 0; k < changed; k++) {
    const i = (k * step + round) % next.length;
    const old = next[i];
    next[i] =
      k < replaced
        ? { ip: providerIp(1_000_000 + round * 10_000 + k), port: 8080, shard: old.shard, startTime: now }
        : { ...old, startTime: now - k };
  }
  return next;
}

/** The JSON text of a Nacos ServiceInfo push for these providers. */
export function serviceInfoJson(service: string, specs: readonly ProviderSpec[]): string {
  const hosts = specs.map((p) => ({
    instanceId: `${p.ip}#${p.port}#DEFAULT#DEFAULT_GROUP@@${service}`,
    ip: p.ip,
    port: p.port,
    weight: 1.0,
    healthy: true,
    enabled: true,
    ephemeral: true,
    clusterName: 'DEFAULT',
    serviceName: `DEFAULT_GROUP@@${service}`,
    metadata: {
      protocol: 'msnb/1',
      codec: 'json',
      patterns: JSON.stringify(shardPatterns(p.shard)),
      events: JSON.stringify(shardEvents(p.shard)),
      startTime: String(p.startTime),
      idleTimeout: '60000',
      version: '1.4.2',
    },
  }));
  return JSON.stringify({ name: `DEFAULT_GROUP@@${service}`, groupName: 'DEFAULT_GROUP', clusters: '', cacheMillis: 10_000, hosts });
}

/** What a consumer's listener receives for a push: decoded, converted, and copied for it. */
export function deliveredInstances(pushJson: string): ServiceInstance[] {
  const info = JSON.parse(pushJson) as { hosts: NacosHost[] };
  return info.hosts.map(toServiceInstance).map((i) => ({ ...i, metadata: { ...i.metadata } }));
}
