import { Connection } from '../connection/connection.js';

/** Creates the connections for one provider address (the cache does not know their options). */
export type ConnectionFactory = (host: string, port: number) => Connection;

/**
 * Long-lived connections per provider address (`connectionsPerProvider` of them), shared by
 * every call and pattern. Concurrent first calls to an address share one connect, because a
 * connection dedupes its own connect attempts. An instance, never a static: two clients with
 * different registries each get their own, or share one through Nest DI.
 */
export class ChannelCache {
  private readonly groups = new Map<string, Connection[]>();
  private closed = false;

  constructor(
    private readonly factory: ConnectionFactory,
    private readonly connectionsPerProvider: number,
  ) {}

  get size(): number {
    return this.groups.size;
  }

  addresses(): string[] {
    return [...this.groups.keys()];
  }

  /** The connections for an address, created (idle) on first use. */
  ensure(host: string, port: number): Connection[] {
    const address = `${host}:${port}`;
    let group = this.groups.get(address);
    if (!group) {
      if (this.closed) return [];
      group = [];
      for (let i = 0; i < this.connectionsPerProvider; i++) group.push(this.factory(host, port));
      this.groups.set(address, group);
    }
    return group;
  }

  get(address: string): readonly Connection[] | undefined {
    return this.groups.get(address);
  }

  /** The available connection with the fewest calls in flight, if any. */
  pickAvailable(address: string): Connection | undefined {
    const group = this.groups.get(address);
    if (!group) return undefined;
    let best: Connection | undefined;
    for (const c of group) {
      if (c.isAvailable && (!best || c.inFlight < best.inFlight)) best = c;
    }
    return best;
  }

  /** Starts connecting every idle connection of an address (failures go to the watchdog). */
  connectIdle(address: string): void {
    for (const c of this.groups.get(address) ?? []) {
      if (c.state === 'idle') c.connect().catch(() => undefined);
    }
  }

  /** Closes and forgets an address's connections; their pending calls fail at once. */
  remove(address: string, reason: string): void {
    const group = this.groups.get(address);
    if (!group) return;
    this.groups.delete(address);
    for (const c of group) c.close(reason);
  }

  close(reason = 'client closed'): void {
    this.closed = true;
    for (const address of [...this.groups.keys()]) this.remove(address, reason);
  }
}
