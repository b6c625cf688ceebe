import type { MsRpcLogger } from '../../common/logger.js';
import { NacosType, namingFields, type NacosInstanceJson } from './nacos-messages.js';
import type { NacosCall } from './nacos-rpc-client.js';

/** Sends one call; resolves true when it was answered on the connection that is current now. */
export type SendOnCurrent = (call: NacosCall) => Promise<boolean>;

interface ServiceEntry {
  group: string;
  service: string;
  /** What this process wants Nacos to hold for the service, by `ip:port`. */
  instances: Map<string, NacosInstanceJson>;
  /** Sent in the last deregistration when the set becomes empty (Nacos wants an instance there). */
  last: NacosInstanceJson | undefined;
  /** Nacos holds exactly `instances` on the current connection. */
  synced: boolean;
  /** Bumped on every change, so a sync only marks the version it sent as synced. */
  version: number;
  /** Syncs of one service run one after another. */
  chain: Promise<void>;
  running: boolean;
}

/**
 * The registrations of one registry and their redo (the Java client's `NamingGrpcRedoService`):
 * Nacos keeps one publish per (connection, service) and forgets all of it with the connection, so
 * this holds, per service, the whole set of instances the process wants registered and brings
 * Nacos in line with it: one instance is an InstanceRequest, several (one process serving a
 * service on several ports) a BatchInstanceRequest with the whole set, none a deregistration.
 * After a reconnect, and on every redo tick for a sync that failed, the set is sent again.
 */
export class RegistrationRedo {
  private readonly entries = new Map<string, ServiceEntry>();
  /** Deregistrations waiting for Nacos: the loss of the connection completes them too. */
  private readonly onLoss = new Set<() => void>();

  constructor(
    private readonly namespace: string,
    private readonly send: SendOnCurrent,
    private readonly logger: MsRpcLogger,
    /** A connection to Nacos is ready now (one that holds this registry's instances). */
    private readonly connected: () => boolean,
  ) {}

  /** Adds (or replaces) an instance and syncs; rejects when Nacos could not be told (the redo keeps trying). */
  register(group: string, service: string, instance: NacosInstanceJson): Promise<void> {
    const entry = this.entry(group, service);
    entry.instances.set(`${instance.ip}:${instance.port}`, instance);
    return this.changed(entry);
  }

  /** Removes an instance and syncs; nothing is sent for an instance this registry never registered. */
  deregister(group: string, service: string, instance: NacosInstanceJson): Promise<void> {
    const entry = this.entries.get(key(group, service));
    if (!entry || !entry.instances.delete(`${instance.ip}:${instance.port}`)) return Promise.resolve();
    entry.last = instance;
    if (!this.connected()) {
      // Nacos dropped this registry's instances with its connection: there is nothing to tell it
      // (a shutdown during an outage must not wait for Nacos). The redo re-sends what remains.
      entry.version++;
      entry.synced = false;
      if (entry.instances.size === 0) this.entries.delete(key(group, service));
      return Promise.resolve();
    }
    // Done when Nacos confirms, or when the connection that held the instance goes meanwhile
    // (the sync itself then waits for the next connection, where it is a harmless no-op).
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.onLoss.delete(done);
        resolve();
      };
      this.onLoss.add(done);
      this.changed(entry).then(done, (err: unknown) => {
        this.onLoss.delete(done);
        reject(err);
      });
    });
  }

  /** The connection is gone and Nacos dropped everything with it. */
  onDisconnected(): void {
    for (const done of [...this.onLoss]) done();
    for (const [k, entry] of this.entries) {
      if (entry.instances.size === 0) this.entries.delete(k);
      else entry.synced = false;
    }
  }

  /** Re-sends every set Nacos does not hold (after a reconnect, and on each redo tick). */
  redo(): void {
    for (const entry of this.entries.values()) {
      if (entry.synced || entry.running) continue;
      this.enqueue(entry).catch((err: unknown) =>
        this.logger.warn(`nacos: redo of ${key(entry.group, entry.service)} failed: ${(err as Error).message}`),
      );
    }
  }

  /** Instances this registry holds registered, for tests and diagnostics. */
  get pending(): number {
    return [...this.entries.values()].filter((e) => !e.synced).length;
  }

  private entry(group: string, service: string): ServiceEntry {
    const k = key(group, service);
    let entry = this.entries.get(k);
    if (!entry) {
      entry = { group, service, instances: new Map(), last: undefined, synced: false, version: 0, chain: Promise.resolve(), running: false };
      this.entries.set(k, entry);
    }
    return entry;
  }

  private changed(entry: ServiceEntry): Promise<void> {
    entry.version++;
    entry.synced = false;
    return this.enqueue(entry);
  }

  private enqueue(entry: ServiceEntry): Promise<void> {
    const run = entry.chain.then(() => this.sync(entry));
    entry.chain = run.catch(() => undefined);
    return run;
  }

  private async sync(entry: ServiceEntry): Promise<void> {
    if (entry.synced) return;
    const version = entry.version;
    const instances = [...entry.instances.values()];
    entry.running = true;
    let onCurrent: boolean;
    try {
      onCurrent = await this.send(this.call(entry, instances));
    } finally {
      entry.running = false;
    }
    if (onCurrent && version === entry.version) {
      entry.synced = true;
      if (instances.length === 0 && this.entries.get(key(entry.group, entry.service)) === entry) {
        this.entries.delete(key(entry.group, entry.service));
      }
    }
  }

  private call(entry: ServiceEntry, instances: NacosInstanceJson[]): NacosCall {
    const fields = namingFields(this.namespace, entry.group, entry.service);
    if (instances.length > 1) {
      return {
        type: NacosType.BatchInstanceRequest,
        response: NacosType.BatchInstanceResponse,
        fields: { ...fields, type: 'batchRegisterInstance', instances },
        secured: true,
      };
    }
    const register = instances.length === 1;
    return {
      type: NacosType.InstanceRequest,
      response: NacosType.InstanceResponse,
      fields: { ...fields, type: register ? 'registerInstance' : 'deregisterInstance', instance: register ? instances[0] : entry.last },
      secured: true,
    };
  }
}

function key(group: string, service: string): string {
  return `${group}@@${service}`;
}
