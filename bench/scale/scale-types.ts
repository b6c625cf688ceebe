/** What the large-service rows are asked to do and what they measure (bench/scale/scale-process.ts). */

export interface ScaleWorkloadSpec {
  /** Providers of the service. */
  readonly providers: number;
  /** Pattern groups for the heap and lazy rows: provider i serves group i % shards. */
  readonly shards: number;
  /** Share of the providers a push changes (half replaced, half re-registered). */
  readonly changedShare: number;
  /** Pushes measured per balancer (the row reports their median). */
  readonly pushes: number;
}

export interface ScaleMeasurement {
  readonly providers: number;
  readonly changedShare: number;
  /**
   * Per balancer, for each push: `applyMs` = registry listener (`listenerMs`: directory, router,
   * channel cache) + the first pick after it (`pickMs`: route lists and balancer state rebuilt).
   */
  readonly push: readonly {
    balancer: string;
    applyMs: readonly number[];
    listenerMs: readonly number[];
    pickMs: readonly number[];
    medianMs: number;
  }[];
  /** Per balancer: ns per router pick, every provider ready and serving the pattern. */
  readonly pick: readonly { balancer: string; ns: number }[];
  readonly heap: {
    /** heapUsed (after forced GCs) with the providers known minus before, per provider. */
    readonly perProviderBytes: number;
    /** Provider addresses the client opened a socket to meanwhile. */
    readonly connectionsOpened: number;
    /** Provider addresses with Connection objects in the channel cache. */
    readonly connectionObjects: number;
  };
  readonly lazy: {
    readonly known: number;
    /** Providers serving the called patterns. */
    readonly serving: number;
    readonly patternsCalled: number;
    readonly calls: number;
    readonly addressesOpened: number;
    readonly connectionObjects: number;
  };
}
