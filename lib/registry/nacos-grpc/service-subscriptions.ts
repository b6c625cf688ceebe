import type { MsRpcLogger } from '../../common/logger.js';
import { InstanceFeed } from '../instance-feed.js';
import { toServiceInstance, type NacosHost } from '../nacos-instance.js';
import type { InstancesListener } from '../registry.js';
import type { ServiceInstance } from '../service-instance.js';
import { NacosType, namingFields, type NacosServiceInfoJson } from './nacos-messages.js';
import type { NacosCall } from './nacos-rpc-client.js';

/** Sends one call; resolves with the answer body and whether it came on the current connection. */
export type SendForBody = (call: NacosCall) => Promise<{ body: Record<string, unknown>; onCurrent: boolean }>;

interface Subscription {
  group: string;
  service: string;
  feed: InstanceFeed;
  /** lastRefTime of the ServiceInfo applied last: an older push is stale. */
  lastRefTime: number;
  /** The server holds this subscription on the current connection. */
  synced: boolean;
  /** The first subscribe; listeners join once it settled. */
  ready: Promise<void>;
  running: boolean;
}

/**
 * Subscriptions and the pushes that feed them. Subscribing sends SubscribeServiceRequest (clusters
 * `""`, as Java 3.x does; clusters are filtered here) and applies the ServiceInfo of the answer;
 * then every NotifySubscriberRequest carries the full list, possibly empty. Nacos forgets
 * subscriptions with the connection, so they are redone after a reconnect, and that answer
 * resyncs the list with whatever changed meanwhile.
 */
export class ServiceSubscriptions {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly namespace: string,
    private readonly clusters: readonly string[],
    private readonly send: SendForBody,
    private readonly logger: MsRpcLogger,
  ) {}

  /** Adds a listener, subscribing first when it is the service's first; the listener gets the current list. */
  async subscribe(group: string, service: string, listener: InstancesListener): Promise<void> {
    const k = key(group, service);
    const sub = this.subs.get(k) ?? this.open(k, group, service);
    await sub.ready;
    // Its last listener left while this one waited: open a fresh subscription.
    if (this.subs.get(k) !== sub) return this.subscribe(group, service, listener);
    sub.feed.listeners.add(listener);
    sub.feed.deliver(listener);
  }

  /** Removes a listener; the last one ends the subscription on the server (best effort). */
  async unsubscribe(group: string, service: string, listener: InstancesListener): Promise<void> {
    const k = key(group, service);
    const sub = this.subs.get(k);
    if (!sub) return;
    sub.feed.listeners.delete(listener);
    if (sub.feed.listeners.size > 0) return;
    this.subs.delete(k);
    await sub.ready.catch(() => undefined);
    if (!sub.synced) return;
    await this.send(this.call(group, service, false)).catch((err: unknown) =>
      this.logger.warn(`nacos: unsubscribing ${k} failed: ${(err as Error).message}`),
    );
  }

  /** The list a subscription holds, or undefined when the service is not subscribed (or not yet answered). */
  cached(group: string, service: string): ServiceInstance[] | undefined {
    const sub = this.subs.get(key(group, service));
    return sub && sub.lastRefTime > 0 ? sub.feed.current : undefined;
  }

  /** Instances of a ServiceInfo, as this registry reports them (clusters filtered). */
  instancesOf(info: NacosServiceInfoJson): ServiceInstance[] {
    const hosts = Array.isArray(info.hosts) ? info.hosts : [];
    return hosts
      .filter((h): h is NacosHost => isHost(h))
      .filter((h) => this.clusters.includes(h.clusterName ?? 'DEFAULT'))
      .map(toServiceInstance);
  }

  /** A NotifySubscriberRequest body. Returns false for a body without a usable ServiceInfo. */
  onPush(body: Record<string, unknown>): boolean {
    const info = body.serviceInfo as NacosServiceInfoJson | undefined;
    if (!info || typeof info !== 'object' || typeof info.name !== 'string') return false;
    // The push fills only serviceInfo; 2.x may send the grouped name there.
    const [group, service] = info.name.includes('@@') ? info.name.split('@@', 2) : [info.groupName ?? 'DEFAULT_GROUP', info.name];
    const sub = this.subs.get(key(group, service));
    if (sub) this.apply(sub, info, 'push');
    return true;
  }

  onDisconnected(): void {
    for (const sub of this.subs.values()) sub.synced = false;
  }

  /** Re-sends every subscription the server does not hold. */
  redo(): void {
    for (const sub of this.subs.values()) {
      if (sub.synced || sub.running) continue;
      this.resubscribe(sub).catch((err: unknown) =>
        this.logger.warn(`nacos: redo of subscription ${key(sub.group, sub.service)} failed: ${(err as Error).message}`),
      );
    }
  }

  close(): void {
    for (const sub of this.subs.values()) sub.feed.listeners.clear();
    this.subs.clear();
  }

  private open(k: string, group: string, service: string): Subscription {
    const sub: Subscription = {
      group,
      service,
      feed: new InstanceFeed(`nacos ${k}`, this.logger),
      lastRefTime: 0,
      synced: false,
      ready: Promise.resolve(),
      running: false,
    };
    sub.ready = this.resubscribe(sub);
    sub.ready.catch(() => {
      if (this.subs.get(k) === sub) this.subs.delete(k);
    });
    this.subs.set(k, sub);
    return sub;
  }

  private async resubscribe(sub: Subscription): Promise<void> {
    sub.running = true;
    try {
      const { body, onCurrent } = await this.send(this.call(sub.group, sub.service, true));
      if (this.subs.get(key(sub.group, sub.service)) !== sub) return;
      if (onCurrent) sub.synced = true;
      this.apply(sub, (body.serviceInfo ?? {}) as NacosServiceInfoJson, 'subscribe', true);
    } finally {
      sub.running = false;
    }
  }

  private apply(sub: Subscription, info: NacosServiceInfoJson, via: string, fromAnswer = false): void {
    const refTime = typeof info.lastRefTime === 'number' ? info.lastRefTime : 0;
    // A subscribe answer is the server's view at this moment, so it wins; a push older than
    // what was applied is stale (pushes are retried and may overtake each other).
    if (!fromAnswer && refTime < sub.lastRefTime) {
      this.logger.debug?.(`nacos: stale ${via} for ${key(sub.group, sub.service)} ignored`);
      return;
    }
    sub.lastRefTime = Math.max(refTime, 1);
    sub.feed.publish(this.instancesOf(info));
  }

  private call(group: string, service: string, subscribe: boolean): NacosCall {
    return {
      type: NacosType.SubscribeServiceRequest,
      response: NacosType.SubscribeServiceResponse,
      fields: { ...namingFields(this.namespace, group, service), subscribe, clusters: '' },
      secured: true,
    };
  }
}

function key(group: string, service: string): string {
  return `${group}@@${service}`;
}

function isHost(value: unknown): value is NacosHost {
  const h = value as Partial<NacosHost> | null;
  return h !== null && typeof h === 'object' && typeof h.ip === 'string' && Number.isInteger(h.port);
}
