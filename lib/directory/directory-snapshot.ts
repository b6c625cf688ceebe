import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MsRpcLogger } from '../common/logger.js';
import type { ServiceInstance } from '../registry/service-instance.js';

interface SnapshotFile {
  version: 2;
  /** The registry's identity (Registry.identity): whose list this is. */
  registry: string;
  service: string;
  group: string;
  savedAt: number;
  instances: ServiceInstance[];
}

/**
 * Persists a directory's provider list to disk (as Dubbo's registry cache file does), so a
 * consumer that starts while the registry is down still finds its providers. Writes are
 * atomic (temp file + rename): a crash mid-write never leaves a torn snapshot. Writes are
 * coalesced: at most one in flight per file, the latest list wins.
 *
 * Files are keyed by the registry's identity (servers and namespace) as well as group and
 * service, and carry it: a consumer pointed at another environment's registry never starts from
 * this one's providers, even with the same service name and the same folder.
 */
export class DirectorySnapshotStore {
  private readonly writing = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, ServiceInstance[]>();
  private readonly registryKey: string;

  constructor(
    private readonly directory: string,
    /** Registry.identity of the registry whose lists this store keeps. */
    readonly registry: string,
    private readonly logger: MsRpcLogger,
  ) {
    // A digest keeps the name short and file-system safe; the file itself holds the identity.
    this.registryKey = createHash('sha256').update(registry).digest('hex').slice(0, 16);
  }

  fileFor(service: string, group: string): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.directory, `${safe(group)}@@${safe(service)}@${this.registryKey}.json`);
  }

  /** The saved list, or undefined when there is none or it is unreadable (logged, not thrown). */
  async load(service: string, group: string): Promise<ServiceInstance[] | undefined> {
    const file = this.fileFor(service, group);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(`cannot read provider snapshot ${file}: ${(err as Error).message}`);
      }
      return undefined;
    }
    try {
      const parsed = JSON.parse(text) as Partial<SnapshotFile>;
      if (parsed.version !== 2 || !Array.isArray(parsed.instances)) throw new Error('unknown snapshot format');
      if (parsed.registry !== this.registry || parsed.service !== service || parsed.group !== group) {
        this.logger.warn(
          `ignoring provider snapshot ${file}: it holds ${JSON.stringify(parsed.group)}@@${JSON.stringify(parsed.service)} ` +
            `of ${JSON.stringify(parsed.registry)}, not ${group}@@${service} of ${this.registry}`,
        );
        return undefined;
      }
      return parsed.instances.filter(isInstance);
    } catch (err) {
      this.logger.warn(`ignoring corrupt provider snapshot ${file}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Queues a write of the latest list; resolves when it (or a newer one) is on disk. */
  save(service: string, group: string, instances: readonly ServiceInstance[]): Promise<void> {
    const file = this.fileFor(service, group);
    this.queued.set(file, [...instances]);
    const running = this.writing.get(file);
    if (running) return running;
    const run = this.drain(file, service, group).finally(() => this.writing.delete(file));
    this.writing.set(file, run);
    return run;
  }

  /** Waits for every queued write. */
  async flush(): Promise<void> {
    await Promise.all([...this.writing.values()]);
  }

  private async drain(file: string, service: string, group: string): Promise<void> {
    await mkdir(this.directory, { recursive: true }).catch(() => undefined);
    for (let list = this.queued.get(file); list; list = this.queued.get(file)) {
      this.queued.delete(file);
      // savedAt is for people reading the file: wall time.
      const body: SnapshotFile = { version: 2, registry: this.registry, service, group, savedAt: Date.now(), instances: list };
      const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeFile(temp, JSON.stringify(body, null, 2), 'utf8');
        await rename(temp, file);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        this.logger.warn(`cannot write provider snapshot ${file}: ${(err as Error).message}`);
      }
    }
  }
}

function isInstance(value: unknown): value is ServiceInstance {
  const v = value as ServiceInstance;
  return (
    !!v &&
    typeof v.id === 'string' &&
    typeof v.host === 'string' &&
    Number.isInteger(v.port) &&
    typeof v.weight === 'number' &&
    typeof v.healthy === 'boolean' &&
    typeof v.enabled === 'boolean'
  );
}
