import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MsRpcLogger } from '../common/logger.js';
import type { ServiceInstance } from '../registry/service-instance.js';

interface SnapshotFile {
  version: 1;
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
 */
export class DirectorySnapshotStore {
  private readonly writing = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, ServiceInstance[]>();

  constructor(
    private readonly directory: string,
    private readonly logger: MsRpcLogger,
  ) {}

  fileFor(service: string, group: string): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.directory, `${safe(group)}@@${safe(service)}.json`);
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
      if (parsed.version !== 1 || !Array.isArray(parsed.instances)) throw new Error('unknown snapshot format');
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
      const body: SnapshotFile = { version: 1, service, group, savedAt: Date.now(), instances: list };
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
