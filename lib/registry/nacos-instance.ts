import type { Registration } from './registration.js';
import { instanceId, stringifyMetadata, type ServiceInstance } from './service-instance.js';

/** An ephemeral instance as both protocols send it to Nacos (`com.alibaba.nacos.api.naming.pojo.Instance`). */
export interface NacosInstanceSpec {
  ip: string;
  port: number;
  weight: number;
  healthy: boolean;
  enabled: boolean;
  ephemeral: boolean;
  clusterName: string;
  metadata: Record<string, string>;
}

/** The instance a registration publishes; the cluster is always set (Nacos builds the instanceId before defaulting it). */
export function nacosInstanceOf(reg: Registration, cluster: string): NacosInstanceSpec {
  return {
    ip: reg.host,
    port: reg.port,
    weight: reg.weight ?? 1,
    healthy: true,
    enabled: true,
    ephemeral: true,
    clusterName: cluster,
    metadata: { ...reg.metadata },
  };
}

/** A host as Nacos serialises it, in a ServiceInfo (v1 `/instance/list`, gRPC pushes and queries). */
export interface NacosHost {
  ip: string;
  port: number;
  weight?: number;
  healthy?: boolean;
  enabled?: boolean;
  clusterName?: string;
  metadata?: Record<string, unknown> | null;
}

/** Nacos metadata may hold non-string JSON values when written by other clients; coerce them. */
export function toServiceInstance(host: NacosHost): ServiceInstance {
  return {
    id: instanceId(host.ip, host.port),
    host: host.ip,
    port: host.port,
    weight: typeof host.weight === 'number' ? host.weight : Number(host.weight ?? 1),
    healthy: host.healthy === true,
    enabled: host.enabled !== false,
    cluster: host.clusterName ?? 'DEFAULT',
    metadata: stringifyMetadata(host.metadata),
  };
}
