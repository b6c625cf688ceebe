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
  /** An update changed something (after its onAdded/onRemoved/onUpdated calls): once per update. */
  onChanged?(): void;
}

/** An instance that may receive calls: enabled, healthy and with a positive weight. */
export function isUsable(instance: ServiceInstance): boolean {
  return instance.enabled && instance.healthy && instance.weight > 0;
}

const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** Compared without allocating: a push compares every known provider (a thousand, pushes apart). */
function registrationChanged(a: ServiceInstance, b: ServiceInstance): boolean {
  if (a.weight !== b.weight || a.cluster !== b.cluster) return true;
  const am = a.metadata ?? NO_METADATA;
  const bm = b.metadata ?? NO_METADATA;
  let keys = 0;
  for (const key in am) {
    if (am[key] !== bm[key]) return true;
    keys++;
  }
  for (const _ in bm) keys--;
  return keys !== 0;
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
  private changes = 0;

  constructor(
    readonly service: string,
    private readonly listener: DirectoryListener,
    private readonly logger: MsRpcLogger,
  ) {}

  get size(): number {
    return this.usable.size;
  }

  /**
   * Counts the updates that changed something: what was derived from the providers (route lists,
   * balancer state) is current while this has not moved.
   */
  get version(): number {
    return this.changes;
  }

  /** A copy of the providers; `values()` walks them without one. */
  list(): ServiceInstance[] {
    return [...this.usable.values()];
  }

  /** The providers, in the order they joined; do not update the directory while walking them. */
  values(): IterableIterator<ServiceInstance> {
    return this.usable.values();
  }

  get(id: string): ServiceInstance | undefined {
    return this.usable.get(id);
  }

  /**
   * Applies a full instance list from the registry and reports the differences. Incremental: a
   * provider whose registration did not change keeps its entry (the same object), so what was
   * derived from it stays valid, and an identical list changes nothing at all.
   */
  update(instances: readonly ServiceInstance[]): void {
    const next = new Map<string, ServiceInstance>();
    let unusable: Set<string> | undefined;
    for (const instance of instances) {
      if (isUsable(instance)) next.set(instance.id, instance);
      else (unusable ??= new Set()).add(instance.id);
    }
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
    const before = this.changes;
    // Deleting the entry being visited is safe while iterating a Map.
    for (const [id, old] of this.usable) {
      if (next.has(id)) continue;
      this.usable.delete(id);
      this.changes++;
      const reported = unusable?.has(id) === true;
      this.logger.verbose?.(`directory ${this.service}: - ${id}${reported ? ' (not usable)' : ''}`);
      this.listener.onRemoved(old, reported ? 'unusable' : 'registry');
    }
    for (const [id, instance] of next) {
      const previous = this.usable.get(id);
      if (!previous) {
        this.usable.set(id, instance);
        this.changes++;
        this.logger.verbose?.(`directory ${this.service}: + ${id}`);
        this.listener.onAdded(instance);
      } else if (previous !== instance && registrationChanged(previous, instance)) {
        this.usable.set(id, instance);
        this.changes++;
        this.logger.verbose?.(`directory ${this.service}: ~ ${id}`);
        this.listener.onUpdated?.(instance, previous);
      }
    }
    if (this.changes !== before) this.listener.onChanged?.();
  }

  /**
   * Forgets every provider without reporting them (their owner closed and already let go of
   * their connections); the next {@link update} reports them as added again.
   */
  clear(): void {
    if (this.usable.size > 0) this.changes++;
    this.usable.clear();
  }
}
