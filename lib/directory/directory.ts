import { MsRpcLogger } from '../common/logger.js';
import type { ServiceInstance } from '../registry/service-instance.js';

export type RemovalReason = 'registry' | 'unusable';

/** How the directory tells the layers below (the channel cache) what changed. */
export interface DirectoryListener {
  onAdded(instance: ServiceInstance): void;
  onRemoved(instance: ServiceInstance, reason: RemovalReason): void;
  /**
   * A known provider was reported again with a different registration (metadata, weight, cluster),
   * typically because its process restarted on the same address and registered anew.
   */
  onUpdated?(instance: ServiceInstance, previous: ServiceInstance): void;
}

/** An instance that may receive calls: enabled, healthy and with a positive weight. */
export function isUsable(instance: ServiceInstance): boolean {
  return instance.enabled && instance.healthy && instance.weight > 0;
}

function registrationChanged(a: ServiceInstance, b: ServiceInstance): boolean {
  if (a.weight !== b.weight || a.cluster !== b.cluster) return true;
  const am = a.metadata ?? {};
  const bm = b.metadata ?? {};
  const keys = Object.keys(am);
  return keys.length !== Object.keys(bm).length || keys.some((k) => am[k] !== bm[k]);
}

/**
 * The consumer's instance cache for one service: the usable providers the registry last reported.
 * It only changes on registry updates, so a registry outage leaves it (and the calls it routes)
 * untouched. A provider the reconnect watchdog evicted stays here: eviction takes it out of load
 * balancing (its connection is not ready), not out of existence, and a successful probe brings it
 * back (see ReconnectWatchdog).
 */
export class Directory {
  private readonly usable = new Map<string, ServiceInstance>();

  constructor(
    readonly service: string,
    private readonly listener: DirectoryListener,
    private readonly logger: MsRpcLogger,
  ) {}

  get size(): number {
    return this.usable.size;
  }

  list(): ServiceInstance[] {
    return [...this.usable.values()];
  }

  get(id: string): ServiceInstance | undefined {
    return this.usable.get(id);
  }

  /** Applies a full instance list from the registry and reports the differences. */
  update(instances: readonly ServiceInstance[]): void {
    const next = new Map<string, ServiceInstance>();
    for (const instance of instances) if (isUsable(instance)) next.set(instance.id, instance);
    if (next.size === 0 && this.usable.size > 0) {
      // Empty-push protection (dubbo#3921, nacos#5163): a registry glitch must not wipe every
      // provider at once. Known providers stay until their own connections prove them gone
      // (heartbeats, reconnect watchdog, eviction) or the registry lists someone else.
      this.logger.warn(
        `directory ${this.service}: registry reported no usable provider while ${this.usable.size} are known; ` +
          'keeping them until their connections fail (empty-push protection)',
      );
      return;
    }
    for (const [id, old] of [...this.usable]) {
      if (!next.has(id)) {
        this.usable.delete(id);
        const reported = instances.find((i) => i.id === id);
        this.logger.verbose?.(`directory ${this.service}: - ${id}${reported ? ' (not usable)' : ''}`);
        this.listener.onRemoved(old, reported ? 'unusable' : 'registry');
      }
    }
    for (const [id, instance] of next) {
      const previous = this.usable.get(id);
      this.usable.set(id, instance);
      if (!previous) {
        this.logger.verbose?.(`directory ${this.service}: + ${id}`);
        this.listener.onAdded(instance);
      } else if (registrationChanged(previous, instance)) {
        this.logger.verbose?.(`directory ${this.service}: ~ ${id}`);
        this.listener.onUpdated?.(instance, previous);
      }
    }
  }

  /**
   * Forgets every provider without reporting them (their owner closed and already let go of
   * their connections); the next {@link update} reports them as added again.
   */
  clear(): void {
    this.usable.clear();
  }
}
