import dgram from 'node:dgram';
import { gzipSync } from 'node:zlib';
import type { ServiceInfoJson } from './nacos-test-store.js';

/** A client that asked for a service with a `udpPort`: where its pushes go. */
interface Subscriber {
  namespace: string;
  service: string;
  clusters: string;
  address: string;
  port: number;
  lastSeen: number;
}

/** One UDP push as sent by the test server, for assertions. */
export interface PushRecord {
  namespace: string;
  service: string;
  address: string;
  port: number;
  lastRefTime: number;
  gzipped: boolean;
  hosts: number;
  acked: boolean;
}

/** Real Nacos gzips a push from this size on (PushService#compressIfNecessary). */
const GZIP_THRESHOLD_BYTES = 1024;

/** `127.0.0.0/8`, `::1` and their IPv4-mapped form; returns the address to send to, or undefined. */
export function loopbackTarget(address: string | undefined): { address: string; family: 'udp4' | 'udp6' } | undefined {
  if (!address) return undefined;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return { address: v4, family: 'udp4' };
  if (address === '::1') return { address, family: 'udp6' };
  return undefined;
}

/**
 * UDP push side of the test server. Unlike a real server (which pushes to `clientIP:udpPort`), it
 * pushes only to the loopback address the list request came from, and never to anything else:
 * `clientIP` is the machine's private address and test traffic must stay on loopback. Sockets are
 * bound to loopback too, so a mistake here cannot leave the host.
 */
export class NacosTestPusher {
  readonly pushes: PushRecord[] = [];
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly pendingAcks = new Map<number, PushRecord>();
  private sequence = 0;

  constructor(private readonly subscriberTtlMs: number) {}

  /** Called on every `/instance/list` with `udpPort > 0`; refreshes the subscriber's lease. */
  track(sub: Omit<Subscriber, 'address' | 'lastSeen'>, remoteAddress: string | undefined, now: number): void {
    const target = loopbackTarget(remoteAddress);
    if (!target || sub.port <= 0 || sub.port > 65535) return;
    const key = [sub.namespace, sub.service, sub.clusters, target.address, sub.port].join('|');
    this.subscribers.set(key, { ...sub, address: target.address, lastSeen: now });
  }

  subscriberCount(namespace: string, service: string): number {
    return [...this.subscribers.values()].filter((s) => s.namespace === namespace && s.service === service).length;
  }

  get ackCount(): number {
    return this.pushes.filter((p) => p.acked).length;
  }

  /** Push the current state of a service to each live subscriber, built for the clusters it asked for. */
  push(namespace: string, service: string, now: number, build: (clusters: string) => ServiceInfoJson): void {
    for (const [key, sub] of this.subscribers) {
      if (now - sub.lastSeen > this.subscriberTtlMs) {
        this.subscribers.delete(key);
        continue;
      }
      if (sub.namespace !== namespace || sub.service !== service) continue;
      const target = loopbackTarget(sub.address);
      if (!target) continue;
      const info = build(sub.clusters);
      const lastRefTime = this.nextRefTime(now);
      const json = Buffer.from(JSON.stringify({ type: 'dom', data: JSON.stringify(info), lastRefTime }));
      const gzipped = json.length >= GZIP_THRESHOLD_BYTES;
      const record: PushRecord = {
        namespace,
        service,
        address: target.address,
        port: sub.port,
        lastRefTime,
        gzipped,
        hosts: info.hosts.length,
        acked: false,
      };
      this.pushes.push(record);
      this.pendingAcks.set(lastRefTime, record);
      this.socket(target.family).send(gzipped ? gzipSync(json) : json, sub.port, target.address, () => undefined);
    }
  }

  /** Drops subscribers and the push log ("server restarted empty"). */
  reset(): void {
    this.subscribers.clear();
    this.pendingAcks.clear();
    this.pushes.length = 0;
  }

  async close(): Promise<void> {
    const closing = [...this.sockets.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    this.sockets.clear();
    await Promise.all(closing);
  }

  /** Nacos uses System.nanoTime(); the client parses JSON into doubles, so stay below 2^53 to echo it intact. */
  private nextRefTime(now: number): number {
    this.sequence = (this.sequence + 1) % 1000;
    return now * 1000 + this.sequence;
  }

  private socket(family: 'udp4' | 'udp6'): dgram.Socket {
    let socket = this.sockets.get(family);
    if (!socket) {
      socket = dgram.createSocket(family);
      socket.on('message', (msg) => this.onAck(msg));
      socket.on('error', () => undefined);
      socket.bind({ port: 0, address: family === 'udp4' ? '127.0.0.1' : '::1' });
      socket.unref();
      this.sockets.set(family, socket);
    }
    return socket;
  }

  private onAck(msg: Buffer): void {
    try {
      const ack = JSON.parse(msg.toString('utf8')) as { type?: string; lastRefTime?: number };
      const record = ack.lastRefTime === undefined ? undefined : this.pendingAcks.get(ack.lastRefTime);
      if (record && ack.type === 'push-ack') {
        record.acked = true;
        this.pendingAcks.delete(ack.lastRefTime!);
      }
    } catch {
      // A malformed datagram is simply not an ack.
    }
  }
}
