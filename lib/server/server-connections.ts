import type { Server as NetServer } from 'node:net';
import type { Clock } from '../common/clock.js';
import type { MsRpcLogger } from '../common/logger.js';
import type { ServerConnection } from './server-connection.js';

/** At most one "connections refused" warning per this period, however hard the server is flooded. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * How long a peer that sent no frame yet has, at shutdown, to show it is a client (its Hello,
 * sent right after connecting, may still be on its way) before it is closed as a stranger.
 */
const STRANGER_GRACE_MS = 50;

/**
 * The open client connections of one server: the `maxConnections` limit, and the graceful drain
 * at shutdown (GoAway to every client, wait for them to close, destroy what is left).
 */
export class ServerConnections {
  private readonly open = new Set<ServerConnection>();
  private refused = 0;
  /** Set while {@link drain} waits for the last connection to close. */
  private drained: (() => void) | undefined;

  constructor(
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** Connections refused since listening because `maxConnections` were open. */
  get refusedCount(): number {
    return this.refused;
  }

  /** Tracks a connection until it reports its close ({@link closed}); one closed already is not kept. */
  add(connection: ServerConnection): void {
    if (connection.isOpen) this.open.add(connection);
  }

  /** A connection is gone (RequestDispatcher.onClosed). */
  closed(connection: ServerConnection): void {
    this.open.delete(connection);
    if (this.open.size === 0) this.drained?.();
  }

  /**
   * `maxConnections` through the listener itself: Node closes a socket over the limit as soon as
   * the kernel hands it over, before any TLS handshake, Nest or protocol state exists for it.
   * Refusals are logged at most once per REFUSAL_LOG_INTERVAL_MS, with their count.
   */
  limit(server: NetServer, max: number): void {
    if (max === 0) return;
    server.maxConnections = max;
    let unlogged = 0;
    let loggedAt = Number.NEGATIVE_INFINITY;
    server.on('drop', () => {
      this.refused++;
      unlogged++;
      const now = this.clock.now();
      if (now - loggedAt < REFUSAL_LOG_INTERVAL_MS) return;
      this.logger.warn(`refused ${unlogged} connection(s): maxConnections (${max}) are open`);
      loggedAt = now;
      unlogged = 0;
    });
  }

  /**
   * Tells every client to go away and waits for them to close their side (each does once its
   * last call settled: requests already on the wire are still answered), for up to `timeoutMs`;
   * then destroys the connections still open (clients that never close, calls still running).
   * Peers that never sent a frame are closed after STRANGER_GRACE_MS instead.
   */
  async drain(reason: string, timeoutMs: number): Promise<void> {
    const strangers: ServerConnection[] = [];
    for (const connection of this.open) {
      if (connection.isStranger) strangers.push(connection);
      else connection.goAway(reason);
    }
    // Probes and scanners never close by themselves: waiting for them would hold every shutdown
    // for `timeoutMs`. Those that said something meanwhile are clients, drained like the others.
    const strangerCheck =
      strangers.length === 0
        ? undefined
        : this.clock.setTimeout(() => {
            for (const connection of strangers) {
              if (connection.isStranger) connection.destroy();
              else connection.goAway(reason);
            }
          }, STRANGER_GRACE_MS);
    if (this.open.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, timeoutMs);
        this.drained = () => {
          this.clock.clearTimeout(timer);
          resolve();
        };
      });
      this.drained = undefined;
    }
    if (strangerCheck !== undefined) this.clock.clearTimeout(strangerCheck);
    for (const connection of [...this.open]) connection.destroy();
  }
}
