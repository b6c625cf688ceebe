/**
 * What the health indicator needs from a client (or anything that consumes a service), so it
 * does not depend on the client's internals. Importing this type never loads `@nestjs/terminus`.
 */
export interface HealthSource {
  /** Discovery name of the consumed service (`service` or `service:version`). */
  readonly serviceName: string;
  /** Providers with at least one ready connection: calls can go out right now. */
  readyProviderCount(): number;
  /** Providers in the instance cache (ready or not), i.e. what discovery currently knows. */
  knownProviderCount(): number;
}

/** What the indicator asks a registry: every {@link Registry} (NacosRegistry, StaticRegistry...) has it. */
export interface ReachableRegistry {
  /** e.g. `'nacos'`, reported as `registry.kind`. */
  readonly kind: string;
  /** Whether the registry answers now. */
  isReachable(): Promise<boolean>;
}

/** A source and how much the application depends on it. */
export interface WatchedSource {
  source: HealthSource;
  /**
   * A required service with no ready provider makes the indicator `down`; an optional one only
   * `degraded`.
   * @default true
   */
  required?: boolean;
}

/** Per-service part of the indicator's result data. */
export interface ServiceHealth {
  ready: number;
  known: number;
  required: boolean;
  /** Set when the source threw while being asked (counted as 0 ready / 0 known). */
  error?: string;
}

/** Registry part of the indicator's result data. */
export interface RegistryHealth {
  kind: string;
  reachable: boolean;
  required: boolean;
  /** Time the reachability check took (or the timeout, when it did not answer). */
  responseTimeMs: number;
  /** Why it counts as unreachable: an error message or `timeout after N ms`. */
  error?: string;
}
