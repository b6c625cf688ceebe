import type { NacosGrpcTestStore } from './grpc-test-store.js';
import { serviceInfoJson } from './grpc-test-store.js';
import type { GrpcTestConnection } from './grpc-test-connection.js';

export interface GrpcPushRecord {
  requestId: string;
  connectionId: string;
  service: string;
  hosts: number;
  attempt: number;
  sentAt: number;
  /** Set when the client acked with resultCode 200. */
  ackedAt?: number;
  /** Set when the ack was missing (timeout) or not 200. */
  failed?: string;
}

export interface PusherTimings {
  pushDelayMs: number;
  subscribePushDelayMs: number;
  pushTimeoutMs: number;
  pushRetryDelayMs: number;
}

/**
 * Nacos's push path (`NamingSubscriberServiceV2Impl`, `PushExecuteTask`, `PushExecutorRpcImpl`):
 * a change schedules one push per service after `pushDelayMs` (changes in between are batched),
 * a subscribe schedules one to the new subscriber; each push is a NotifySubscriberRequest with a
 * server-wide counter requestId and the full list, and waits for the client's ack. A missing ack
 * (timeout) or a non-200 one is retried after `pushRetryDelayMs` while the subscriber remains.
 */
export class GrpcTestPusher {
  readonly records: GrpcPushRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly scheduled = new Set<string>();
  private closed = false;

  constructor(
    private readonly store: NacosGrpcTestStore,
    private readonly timings: PusherTimings,
    private readonly connections: () => Iterable<GrpcTestConnection>,
    private readonly nextRequestId: () => string,
  ) {}

  reopen(): void {
    this.closed = false;
  }

  /** A service changed: push it to every subscriber of this node, once, after the push delay. */
  changed(namespace: string, service: string): void {
    const key = `${namespace}|${service}`;
    if (this.closed || this.scheduled.has(key)) return;
    this.scheduled.add(key);
    this.later(this.timings.pushDelayMs, () => {
      this.scheduled.delete(key);
      for (const connection of this.connections()) {
        if (connection.subscriptions.has(key)) void this.push(connection, namespace, service, 1);
      }
    });
  }

  subscribed(connection: GrpcTestConnection, namespace: string, service: string): void {
    this.later(this.timings.subscribePushDelayMs, () => void this.push(connection, namespace, service, 1));
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.scheduled.clear();
  }

  private async push(connection: GrpcTestConnection, namespace: string, service: string, attempt: number): Promise<void> {
    if (this.closed || connection.closed || !connection.subscriptions.has(`${namespace}|${service}`)) return;
    const serviceInfo = serviceInfoJson(this.store, namespace, service, '', false, Date.now());
    const requestId = this.nextRequestId();
    const record: GrpcPushRecord = { requestId, connectionId: connection.id, service, hosts: serviceInfo.hosts.length, attempt, sentAt: Date.now() };
    this.records.push(record);
    if (this.records.length > 5000) this.records.shift();
    // namespace/serviceName/groupName are not filled on a push: the client keys it by serviceInfo.
    const answer = await connection.request(
      { type: 'NotifySubscriberRequest', headers: {}, body: { headers: {}, requestId, serviceInfo, module: 'naming' } },
      this.timings.pushTimeoutMs,
    );
    if (answer && answer.type === 'NotifySubscriberResponse' && Number(answer.body.resultCode) === 200) {
      record.ackedAt = Date.now();
      return;
    }
    record.failed = answer ? `${answer.type} ${String(answer.body.resultCode)}` : 'no ack';
    this.later(this.timings.pushRetryDelayMs, () => void this.push(connection, namespace, service, attempt + 1));
  }

  private later(ms: number, task: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
