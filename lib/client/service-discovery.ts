import { MsRpcLogger } from '../common/logger.js';
import { Directory, isUsable } from '../directory/directory.js';
import { DirectorySnapshotStore } from '../directory/directory-snapshot.js';
import type { Registry } from '../registry/registry.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { RouterDiscovery } from './provider-router.js';

/**
 * Feeds one client's directory: the snapshot first (a consumer started during a registry outage
 * still finds its providers), then the registry subscription, and re-resolution on demand.
 */
export class ServiceDiscovery implements RouterDiscovery {
  private started: Promise<void> | undefined;
  /** The re-resolution in flight, shared by every caller that asks meanwhile. */
  private resolving: Promise<void> | undefined;
  private closed = false;
  /** The unsubscribe of the last stop(), which a restart waits for. */
  private stopping: Promise<void> | undefined;
  private hasAnswered = false;
  private failure: Error | undefined;
  private readonly listener = (instances: ServiceInstance[]) => {
    if (this.closed) return;
    this.hasAnswered = true;
    this.failure = undefined;
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
  ) {}

  private get groupName(): string {
    return this.group ?? 'DEFAULT_GROUP';
  }

  /** RouterDiscovery: the registry delivered a list since the last start. */
  get answered(): boolean {
    return this.hasAnswered;
  }

  /** RouterDiscovery: why the latest subscription or lookup failed, if it did. */
  get lastError(): Error | undefined {
    return this.failure;
  }

  /** RouterDiscovery: asks the registry again, for calls that find no provider. */
  requestResolution(): void {
    void this.resolve();
  }

  /**
   * Loads the snapshot and subscribes, once; later calls share the first start. After
   * {@link stop}, starts again (once the unsubscribe finished).
   */
  start(): Promise<void> {
    this.closed = false;
    this.started ??= (this.stopping ?? Promise.resolve()).then(() => this.subscribe());
    return this.started;
  }

  /**
   * Re-resolution: asks the registry again (e.g. every provider was evicted). Every call that
   * finds no provider asks for it, so one lookup in flight serves them all.
   */
  resolve(): Promise<void> {
    this.resolving ??= this.lookup().finally(() => (this.resolving = undefined));
    return this.resolving;
  }

  /** Unsubscribes; {@link start} may subscribe again afterwards (a client used after close()). */
  stop(): Promise<void> {
    if (this.closed) return this.stopping ?? Promise.resolve();
    this.closed = true;
    const started = this.started;
    this.started = undefined;
    this.hasAnswered = false;
    this.failure = undefined;
    this.stopping = this.unsubscribe(started);
    return this.stopping;
  }

  private async unsubscribe(started: Promise<void> | undefined): Promise<void> {
    if (started) {
      // Wait for a subscription under way: unsubscribing before it lands would leave it in place.
      await started.catch(() => undefined);
      try {
        await this.registry.unsubscribe(this.serviceName, this.listener, this.group);
      } catch (err) {
        this.logger.warn(`unsubscribe from ${this.registry.kind} failed: ${(err as Error).message}`);
      }
    }
    await this.snapshots?.flush();
  }

  private async subscribe(): Promise<void> {
    // The snapshot goes first so a fresh registry answer always wins over it.
    const saved = await this.snapshots?.load(this.serviceName, this.groupName);
    if (saved && saved.length > 0 && this.directory.size === 0 && !this.closed) {
      this.logger.log(`"${this.serviceName}": starting with ${saved.length} provider(s) from the snapshot`);
      this.directory.update(saved);
    }
    if (this.closed) return;
    try {
      await this.registry.subscribe(this.serviceName, this.listener, this.group);
    } catch (err) {
      this.started = undefined;
      this.failure = err as Error;
      this.logger.error(`subscribing to "${this.serviceName}" in ${this.registry.kind} failed: ${(err as Error).message}`);
      this.onError(err as Error);
    }
  }

  private async lookup(): Promise<void> {
    if (this.closed) return;
    await this.start();
    // The first discovery (still under way when the calls asked) may have filled the directory.
    if (this.closed || this.directory.size > 0) return;
    try {
      const instances = await this.registry.getInstances(this.serviceName, this.group);
      if (instances.length > 0) this.directory.update(instances);
    } catch (err) {
      this.failure = err as Error;
      this.logger.warn(`re-resolving "${this.serviceName}" failed: ${(err as Error).message}`);
    }
  }
}
