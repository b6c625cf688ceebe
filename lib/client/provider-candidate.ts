import type { Candidate } from '../balancer/balancer.js';
import type { Connection } from '../connection/connection.js';
import type { ServiceInstance } from '../registry/service-instance.js';

/**
 * One provider as the router offers it to its balancer: the instance and the provider's
 * connections (the channel cache's array for the address, which lives as long as its group).
 * Kept between picks in the router's cached route lists, so what changes from call to call is
 * read live: the calls in flight, and which connection is free.
 */
export class ProviderCandidate implements Candidate {
  constructor(
    readonly instance: ServiceInstance,
    readonly connections: readonly Connection[],
  ) {}

  /** Calls in flight to the provider, over all its connections (for least-active balancing). */
  get inFlight(): number {
    const connections = this.connections;
    let n = 0;
    for (let i = 0; i < connections.length; i++) n += connections[i].inFlight;
    return n;
  }

  /** The available connection with the fewest calls in flight, if any. */
  connection(): Connection | undefined {
    const connections = this.connections;
    let best: Connection | undefined;
    for (let i = 0; i < connections.length; i++) {
      const c = connections[i];
      if (c.isAvailable && (best === undefined || c.inFlight < best.inFlight)) best = c;
    }
    return best;
  }
}
