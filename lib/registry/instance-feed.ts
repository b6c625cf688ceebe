import type { MsRpcLogger } from '../common/logger.js';
import type { InstancesListener } from './registry.js';
import type { ServiceInstance } from './service-instance.js';

/**
 * The listeners of one subscribed service and the list they were last given: a new list reaches
 * them only when it differs, each gets its own copy, and a listener that throws is logged
 * without keeping the others from their update.
 */
export class InstanceFeed {
  readonly listeners = new Set<InstancesListener>();
  private list: ServiceInstance[] = [];
  private signature = '';

  constructor(
    private readonly label: string,
    private readonly logger: MsRpcLogger,
  ) {}

  get current(): ServiceInstance[] {
    return this.list;
  }

  /** Records a new list; false when it is the same as the last one (in any order). */
  apply(instances: ServiceInstance[]): boolean {
    const signature = JSON.stringify([...instances].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    if (signature === this.signature) return false;
    this.signature = signature;
    this.list = instances;
    return true;
  }

  /** Applies a list and, when it changed, gives it to every listener. */
  publish(instances: ServiceInstance[]): void {
    if (!this.apply(instances)) return;
    for (const listener of [...this.listeners]) this.deliver(listener);
  }

  deliver(listener: InstancesListener): void {
    try {
      listener(this.list.map((i) => ({ ...i, metadata: { ...i.metadata } })));
    } catch (err) {
      this.logger.error(`${this.label}: instances listener threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
