import type { Registration } from './registration.js';
import type { ServiceInstance } from './service-instance.js';

export type InstancesListener = (instances: ServiceInstance[]) => void;

/**
 * Service discovery as the rest of the library sees it. Implementations report what they know
 * (including unhealthy or disabled instances); the directory above decides what is usable and
 * how to treat an empty or stale list.
 */
export interface Registry {
  /** Human-readable kind for logs, e.g. 'nacos' | 'static' */
  readonly kind: string;
  /**
   * Which registry this is: the same for every instance pointed at the same registry (kind, server
   * list, namespace), another one for another environment. Keys state kept across restarts, such as
   * the consumers' provider snapshots, so that one environment's providers never show up in another.
   * See serverListIdentity() for registries reached through a server list.
   */
  readonly identity: string;
  register(reg: Registration): Promise<void>;
  deregister(reg: Registration): Promise<void>;
  /**
   * Calls the listener with the FULL current list on every change, and once with the initial list
   * before resolving. A client that cannot reach its registry may resolve with an empty initial
   * list (the nacos client does); isReachable() tells that apart from an empty service.
   */
  subscribe(service: string, listener: InstancesListener, group?: string): Promise<void>;
  unsubscribe(service: string, listener: InstancesListener, group?: string): Promise<void>;
  getInstances(service: string, group?: string): Promise<ServiceInstance[]>;
  /** Reachability of the registry itself (for health checks). */
  isReachable(): Promise<boolean>;
  close(): Promise<void>;
}
