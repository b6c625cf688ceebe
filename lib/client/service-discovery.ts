import type { Clock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { OutageLog } from '../common/outage-log.js';
import { Directory, isUsable } from '../directory/directory.js';
import { DirectorySnapshotStore } from '../directory/directory-snapshot.js';
import { ExponentialBackoff } from '../liveness/backoff.js';
import type { Registry } from '../registry/registry.js';
import { withRegistryTimeout } from '../registry/registry-timeout.js';
import { RegistryTimeoutError } from '../errors/registry-timeout-error.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { RouterDiscovery } from './provider-router.js';

/** Pacing of re-subscriptions after the registry refused one: unlimited, capped at Nacos's poll period scale. */
const RESUBSCRIBE_BACKOFF = { initialDelay: 1000, maxDelay: 30_000, maxAttempts: 0 };

/**
 * Feeds one client's directory from the registry subscription, with re-resolution on demand.
 *
 * The snapshot (the last list this registry gave, saved on disk) is a fallback for a consumer
 * started while its registry cannot answer: it is read only when the first subscription fails,
 * times out (`registryTimeout`), or answers an empty list while the registry is unreachable (what
 * the nacos client does). The registry's first real answer then replaces it. A registry that
 * answers never sees its answer mixed with a snapshot.
 *
 * {@link stop} unsubscribes; a later {@link start} subscribes again (a client used after close()).
 */
export class ServiceDiscovery implements RouterDiscovery {
  private started: Promise<void> | undefined;
  /** The re-resolution in flight, shared by every caller that asks meanwhile. */
  private resolving: Promise<void> | undefined;
  private closed = false;
  /** The unsubscribe of the last stop(), which a restart waits for. */
  private stopping: Promise<void> | undefined;
  /** The registry gave an answer (a non-empty list, or an empty one while reachable). */
  private hasAnswered = false;
  /** Why the latest subscription or lookup failed, until the registry answers. */
  private failure: Error | undefined;
  /** The registry's subscribe() still out (it may outlive the wait that timed out). */
  private subscribing: Promise<void> | undefined;
  private subscribed = false;
  private retryTimer: TimerHandle | undefined;
  private readonly backoff = new ExponentialBackoff(RESUBSCRIBE_BACKOFF);
  /** Failed subscriptions: one warning, then debug; one line once subscribed. */
  private readonly outage: OutageLog;
  private readonly listener = (instances: ServiceInstance[]) => {
    // A subscription that completed after stop() (its wait had timed out) is dropped.
    if (this.closed) return;
    if (instances.length > 0) this.answer();
    this.directory.update(instances);
    // Only a list with a usable provider replaces the snapshot (the directory's empty-push
    // protection, applied to the file): an unreachable registry answers a fresh subscription
    // with `[]` (the nacos client does), and saving that wiped the snapshot a consumer had just
    // started from, so the next consumer started during the same outage found nothing.
    if (instances.some(isUsable)) void this.snapshots?.save(this.serviceName, this.groupName, instances);
  };

  constructor(
    private readonly registry: Registry,
    readonly serviceName: string,
    private readonly group: string | undefined,
    private readonly directory: Directory,
    private readonly snapshots: DirectorySnapshotStore | undefined,
    private readonly logger: MsRpcLogger,
    private readonly onError: (error: Error) => void,
    private readonly registryTimeout: number,
    private readonly clock: Clock,
  ) {
    this.outage = new OutageLog(logger, clock);
  }

  private get groupName(): string {
    return this.group ?? 'DEFAULT_GROUP';
  }

  /** RouterDiscovery: the registry answered since the last start (an empty directory then means nobody is registered). */
  get answered(): boolean {
    return this.hasAnswered;
  }

  /** RouterDiscovery: why the latest subscription or lookup failed, while the registry has not answered since. */
  get lastError(): Error | undefined {
    return this.failure;
  }

  /** RouterDiscovery: asks the registry again, for calls that find no provider. */
  requestResolution(): void {
    void this.resolve();
  }

  /**
   * Subscribes, once; later calls share the first start. Resolves once the registry answered, or
   * (at most `registryTimeout` later) once the snapshot was loaded in its place. After
   * {@link stop}, starts again once the unsubscribe finished.
   */
  start(): Promise<void> {
    this.closed = false;
    this.started ??= (this.stopping ?? Promise.resolve()).then(() => this.discover());
    return this.started;
  }

  /**
   * Re-resolution: asks the registry again (e.g. every provider failed). Every call that finds no
   * provider asks for it, so one lookup in flight serves them all.
   */
  resolve(): Promise<void> {
    this.resolving ??= this.lookup().finally(() => (this.resolving = undefined));
    return this.resolving;
  }

  /** Unsubscribes (bounded by `registryTimeout`); {@link start} may subscribe again afterwards. */
  stop(): Promise<void> {
    if (this.closed) return this.stopping ?? Promise.resolve();
    this.closed = true;
    this.started = undefined;
    this.hasAnswered = false;
    this.failure = undefined;
    this.clearRetry();
    this.stopping = this.unsubscribe();
    return this.stopping;
  }

  private async unsubscribe(): Promise<void> {
    // A subscribe() still out has not attached the listener: subscribe() takes it back out if it
    // lands while stopped. Waiting for the registry's unsubscribe would only wait on that same hung call.
    if (this.subscribed && !this.subscribing) {
      this.subscribed = false;
      try {
        await withRegistryTimeout(
          this.registry.unsubscribe(this.serviceName, this.listener, this.group),
          `unsubscribe from "${this.serviceName}" in ${this.registry.kind}`,
          this.registryTimeout,
          this.clock,
        );
      } catch (err) {
        this.logger.warn(`unsubscribe from ${this.registry.kind} failed: ${(err as Error).message}`);
      }
    }
    await this.snapshots?.flush();
  }

  private answer(): void {
    this.hasAnswered = true;
    this.failure = undefined;
  }

  private async discover(): Promise<void> {
    const deadline = this.clock.now() + this.registryTimeout;
    const why = await this.firstAnswer(deadline);
    if (why === undefined || this.closed) return;
    const saved = await this.snapshots?.load(this.serviceName, this.groupName);
    // The registry may have answered while the file was read: its answer wins.
    if (!saved || saved.length === 0 || this.hasAnswered || this.directory.size > 0 || this.closed) return;
    this.logger.warn(`"${this.serviceName}": ${why}; starting with ${saved.length} provider(s) from the snapshot until it answers`);
    this.directory.update(saved);
  }

  /** Undefined once the registry answered by `deadline`, otherwise why it did not. */
  private async firstAnswer(deadline: number): Promise<string | undefined> {
    const what = `subscribe to "${this.serviceName}" in ${this.registry.kind}`;
    try {
      await withRegistryTimeout(this.subscribe(), what, this.registryTimeout, this.clock);
    } catch (err) {
      this.failure = err as Error;
      // A refusal was logged with its retry (see subscribe()).
      if (err instanceof RegistryTimeoutError) this.outage.failed(`subscribing to "${this.serviceName}" failed: ${err.message}`);
      this.onError(err as Error);
      return `${this.registry.kind} did not answer`;
    }
    if (this.hasAnswered) return undefined;
    // An empty list: an empty service, or a client that could not reach its registry.
    const left = Math.max(1, Math.ceil(deadline - this.clock.now()));
    const reachable = await withRegistryTimeout(this.registry.isReachable(), `reach ${this.registry.kind}`, left, this.clock).catch(
      () => false,
    );
    if (reachable) {
      this.answer();
      return undefined;
    }
    return `${this.registry.kind} is unreachable (it answered an empty list)`;
  }

  /**
   * One subscribe() call, or the one still out. A refusal is retried with backoff for as long as
   * the client is open: the listener must end up attached whatever happened at startup.
   */
  private subscribe(): Promise<void> {
    if (this.subscribing) return this.subscribing;
    if (this.subscribed) return Promise.resolve();
    const call = this.registry.subscribe(this.serviceName, this.listener, this.group);
    this.subscribing = call;
    call.then(
      () => {
        this.subscribing = undefined;
        this.subscribed = true;
        this.backoff.reset();
        this.outage.recovered(`subscribed to "${this.serviceName}" in ${this.registry.kind}`);
        // Completed after stop(): take the listener back out (the registry may be shared).
        if (this.closed) {
          this.subscribed = false;
          void this.registry.unsubscribe(this.serviceName, this.listener, this.group).catch(() => undefined);
        }
      },
      (err: Error) => {
        this.subscribing = undefined;
        if (this.closed) return;
        this.failure = err;
        const delay = this.backoff.next() ?? RESUBSCRIBE_BACKOFF.maxDelay;
        this.outage.failed(`subscribing to "${this.serviceName}" in ${this.registry.kind} failed: ${err.message} (next attempt in ${Math.round(delay)} ms)`);
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = undefined;
          if (!this.closed && !this.subscribed) void this.subscribe().catch(() => undefined);
        }, delay);
      },
    );
    return call;
  }

  private clearRetry(): void {
    if (this.retryTimer === undefined) return;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async lookup(): Promise<void> {
    if (this.closed) return;
    await this.start();
    // The first discovery (still under way when the calls asked) may have filled the directory.
    if (this.closed || this.directory.size > 0) return;
    try {
      const instances = await withRegistryTimeout(
        this.registry.getInstances(this.serviceName, this.group),
        `look up "${this.serviceName}" in ${this.registry.kind}`,
        this.registryTimeout,
        this.clock,
      );
      if (instances.length > 0) this.directory.update(instances);
    } catch (err) {
      this.failure = err as Error;
      this.logger.warn(`re-resolving "${this.serviceName}" failed: ${(err as Error).message}`);
    }
  }
}
