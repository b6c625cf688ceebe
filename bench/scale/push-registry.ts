import type { Registration } from '../../lib/registry/registration.js';
import type { InstancesListener, Registry } from '../../lib/registry/registry.js';
import type { ServiceInstance } from '../../lib/registry/service-instance.js';
import { deliveredInstances } from './scale-instances.js';

/**
 * A registry that delivers what the bench pushes, synchronously, and times each listener: the time
 * one consumer takes to apply a push (its directory and everything the directory tells). It keeps
 * no list of its own once delivered, so a consumer's heap is the consumer's alone.
 */
export class PushRegistry implements Registry {
  readonly kind = 'bench';
  readonly identity = 'bench://push-registry';
  private readonly listeners = new Set<InstancesListener>();
  private current: string | undefined;

  async register(_reg: Registration): Promise<void> {}

  async deregister(_reg: Registration): Promise<void> {}

  async subscribe(_service: string, listener: InstancesListener): Promise<void> {
    this.listeners.add(listener);
    listener(this.current === undefined ? [] : deliveredInstances(this.current));
  }

  async unsubscribe(_service: string, listener: InstancesListener): Promise<void> {
    this.listeners.delete(listener);
  }

  async getInstances(): Promise<ServiceInstance[]> {
    return this.current === undefined ? [] : deliveredInstances(this.current);
  }

  async isReachable(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  /**
   * Delivers a ServiceInfo push (JSON) to every subscriber, each with its own decoded copy made
   * before its clock starts; returns each listener's apply time in ms, in subscription order.
   */
  push(serviceInfoJson: string, keep = true): number[] {
    this.current = keep ? serviceInfoJson : undefined;
    const times: number[] = [];
    for (const listener of this.listeners) {
      const list = deliveredInstances(serviceInfoJson);
      const t0 = performance.now();
      listener(list);
      times.push(performance.now() - t0);
    }
    return times;
  }
}
