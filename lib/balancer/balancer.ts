import type { ServiceInstance } from '../registry/service-instance.js';

/** A provider eligible for a call, with what balancers may weigh. */
export interface Candidate {
  readonly instance: ServiceInstance;
  /** Calls currently in flight to this provider. */
  readonly inFlight: number;
}

/** Picks one candidate per call. Pure over its input; holds at most its own rotation state. */
export interface Balancer {
  readonly name: string;
  pick<C extends Candidate>(candidates: readonly C[]): C | undefined;
}
