import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { describeError, MsRpcLogger } from '../common/logger.js';
import { Connection, SocketFactory } from '../connection/connection.js';
import { ConnectionState } from '../connection/connection-state.js';
import { MessageCodec } from '../protocol/message-codec.js';
import { ChannelOptions } from './channel-options.js';

/** What the cache reports upward, to every client sharing it (and to the watchdog). */
export interface ChannelListener {
  onStateChange?(connection: Connection, from: ConnectionState, to: ConnectionState, reason: Error | undefined): void;
  onGoAway?(connection: Connection, reason: string): void;
  /**
   * A provider failed every reconnect attempt: it is out of load balancing (its connections are not
   * ready) and probed at the backoff cap from now on, for as long as someone holds it.
   */
  onEvicted?(address: string, attempts: number, reason: Error | undefined): void;
  /** An evicted provider answered a probe (its Hello arrived): it takes calls again. */
  onReadmitted?(address: string): void;
  /** Someone asked for a lost connection to be retried now (see {@link ChannelCache.reconnectSoon}). */
  onReconnectRequested?(connection: Connection, why: string): void;
}

interface Group {
  connections: Connection[];
  /** Who uses the address (clients); the connections close when the last one lets go. */
  holders: Set<object>;
  /** Set while the group waits for its in-flight calls before closing. */
  retireTimer?: TimerHandle;
  /** The watchdog gave up on fast reconnects: probed at the backoff cap until one succeeds. */
  evicted?: boolean;
}

/** How often a retiring address is checked for calls still in flight. */
const RETIRE_POLL_MS = 25;

/**
 * Long-lived connections per provider address (`connectionsPerProvider` of them), shared by
 * every call, pattern and client that holds the address. Concurrent first calls to an address
 * share one connect, because a connection dedupes its own connect attempts. An instance, never
 * a static: Nest DI shares one through MsRpcModule, a standalone client makes its own.
 */
export class ChannelCache {
  private readonly groups = new Map<string, Group>();
  private readonly listeners = new Set<ChannelListener>();
  private readonly codec: MessageCodec;
  private closed = false;

  constructor(
    readonly options: ChannelOptions,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    private readonly socketFactory?: SocketFactory,
  ) {
    this.codec = new MessageCodec(options);
  }

  get size(): number {
    return this.groups.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Listeners attached (clients and the watchdog): a closed client detaches its own. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  addresses(): string[] {
    return [...this.groups.keys()];
  }

  /** Subscribes to connection events of every address; returns the unsubscribe function. */
  addListener(listener: ChannelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The connections for an address, created (idle) on first use; `holder` now holds it. */
  ensure(host: string, port: number, holder: object): Connection[] {
    const address = `${host}:${port}`;
    let group = this.groups.get(address);
    if (!group) {
      if (this.closed) return [];
      group = { connections: [], holders: new Set() };
      for (let i = 0; i < this.options.connectionsPerProvider; i++) group.connections.push(this.create(host, port));
      this.groups.set(address, group);
    }
    group.holders.add(holder);
    this.cancelRetirement(group);
    return group.connections;
  }

  get(address: string): readonly Connection[] | undefined {
    return this.groups.get(address)?.connections;
  }

  /** The available connection with the fewest calls in flight, if any. */
  pickAvailable(address: string): Connection | undefined {
    const group = this.groups.get(address);
    if (!group || group.retireTimer !== undefined) return undefined;
    let best: Connection | undefined;
    for (const c of group.connections) {
      if (c.isAvailable && (!best || c.inFlight < best.inFlight)) best = c;
    }
    return best;
  }

  /** Calls in flight to an address, over all its connections (for least-active balancing). */
  inFlight(address: string): number {
    let n = 0;
    for (const c of this.groups.get(address)?.connections ?? []) n += c.inFlight;
    return n;
  }

  /** Starts connecting every idle connection of an address (failures go to the watchdog). */
  connectIdle(address: string): void {
    for (const c of this.groups.get(address)?.connections ?? []) {
      if (c.state === 'idle') c.connect().catch(() => undefined);
    }
  }

  /**
   * A hint that the address's lost connections should be retried now rather than at their next
   * backoff tick: the registry announced the provider again, or a call is waiting with nothing
   * ready. The reconnect watchdog decides (it rate-limits and keeps its backoff schedule).
   */
  reconnectSoon(address: string, why: string): void {
    const group = this.groups.get(address);
    if (!group || group.retireTimer !== undefined) return;
    for (const c of group.connections) {
      if (c.state === 'transient-failure') this.notify((l) => l.onReconnectRequested?.(c, why));
    }
  }

  /**
   * `holder` no longer uses the address. When nobody does, its connections close — at once
   * when `graceMs` is 0, otherwise as soon as they carry no call, and after `graceMs` at most
   * (a provider that deregistered on a graceful shutdown still answers what it already has).
   */
  release(address: string, holder: object, reason: string, graceMs = 0): void {
    const group = this.groups.get(address);
    if (!group || !group.holders.delete(holder) || group.holders.size > 0) return;
    this.cancelRetirement(group);
    const deadline = this.clock.now() + graceMs;
    const check = () => {
      group.retireTimer = undefined;
      const busy = group.connections.some((c) => c.inFlight > 0);
      if (!busy || this.clock.now() >= deadline) {
        if (this.groups.get(address) === group) this.remove(address, reason);
        return;
      }
      group.retireTimer = this.clock.setTimeout(check, RETIRE_POLL_MS);
    };
    check();
  }

  /**
   * Reports an unreachable provider to every holder, once (any of its connections may be the
   * first to give up). Its connections stay: the watchdog keeps probing them.
   */
  evict(address: string, attempts: number, reason: Error | undefined): void {
    const group = this.groups.get(address);
    if (!group || group.evicted) return;
    group.evicted = true;
    this.notify((l) => l.onEvicted?.(address, attempts, reason));
  }

  /** An evicted provider's connection is ready again: tells every holder. */
  readmit(address: string): void {
    const group = this.groups.get(address);
    if (!group?.evicted) return;
    group.evicted = false;
    this.notify((l) => l.onReadmitted?.(address));
  }

  /** Whether the provider at `address` is evicted (see {@link evict}). */
  isEvicted(address: string): boolean {
    return this.groups.get(address)?.evicted === true;
  }

  /** Closes and forgets an address's connections now; their pending calls fail at once. */
  remove(address: string, reason: string): void {
    const group = this.groups.get(address);
    if (!group) return;
    this.groups.delete(address);
    this.cancelRetirement(group);
    for (const c of group.connections) c.close(reason);
  }

  close(reason = 'channel cache closed'): void {
    this.closed = true;
    for (const address of [...this.groups.keys()]) this.remove(address, reason);
    this.listeners.clear();
  }

  private create(host: string, port: number): Connection {
    return new Connection(
      host,
      port,
      this.options,
      this.codec,
      {
        onStateChange: (c, from, to, reason) => this.notify((l) => l.onStateChange?.(c, from, to, reason)),
        onGoAway: (c, reason) => this.notify((l) => l.onGoAway?.(c, reason)),
      },
      this.logger,
      this.clock,
      this.socketFactory,
    );
  }

  /**
   * Tells every listener, each isolated from the others: these calls run inside connection state
   * transitions, and one that throws must neither stop the others from hearing it nor leave the
   * connection half-way through a transition (a slot stuck `connecting`).
   */
  private notify(call: (listener: ChannelListener) => void): void {
    for (const l of [...this.listeners]) {
      try {
        call(l);
      } catch (err) {
        this.logger.error(`channel listener failed: ${describeError(err)}`, (err as Error | undefined)?.stack);
      }
    }
  }

  private cancelRetirement(group: Group): void {
    if (group.retireTimer !== undefined) {
      this.clock.clearTimeout(group.retireTimer);
      group.retireTimer = undefined;
    }
  }
}
