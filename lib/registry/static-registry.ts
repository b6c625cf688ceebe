import { boundedLogger, consoleWarnLogger, type MsRpcLogger } from '../common/logger.js';
import { checkInteger, checkKnownKeys, checkNumber, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Registration } from './registration.js';
import type { InstancesListener, Registry } from './registry.js';
import { instanceId, type ServiceInstance } from './service-instance.js';

/** `'host:port'` (IPv6 as `'[::1]:4000'`) or an object with optional weight and metadata. */
export type StaticAddress = string | { host: string; port: number; weight?: number; metadata?: Record<string, string> };

/**
 * "Direct mode": a fixed provider list, the same for every service name, with no registry server.
 * Useful for local development, tests, and deployments where addresses come from configuration.
 * Registration is a no-op; {@link setInstances} changes the list at runtime and notifies subscribers.
 */
export class StaticRegistry implements Registry {
  readonly kind = 'static';
  /** `static://` and the addresses it was built with, sorted (setInstances does not change it). */
  readonly identity: string;
  private instances: ServiceInstance[];
  private readonly listeners = new Map<string, Set<InstancesListener>>();
  private closed = false;

  private readonly logger: MsRpcLogger;

  constructor(addresses: readonly StaticAddress[], logger: MsRpcLogger = consoleWarnLogger) {
    this.logger = boundedLogger(logger);
    this.instances = parseStaticAddresses(addresses, 'StaticRegistry.addresses');
    this.identity = `static://${this.instances
      .map((i) => i.id)
      .sort()
      .join(',')}`;
  }

  /** Replaces the list (validated like the constructor's) and notifies every subscriber with it. */
  setInstances(addresses: readonly StaticAddress[]): void {
    this.instances = parseStaticAddresses(addresses, 'StaticRegistry.addresses');
    if (this.closed) return;
    for (const set of this.listeners.values()) {
      for (const listener of [...set]) this.notify(listener);
    }
  }

  async register(_reg: Registration): Promise<void> {
    // Nothing to publish: consumers are configured with this process's address directly.
  }

  async deregister(_reg: Registration): Promise<void> {
    // See register().
  }

  async subscribe(service: string, listener: InstancesListener, group = ''): Promise<void> {
    const key = `${group}@@${service}`;
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(listener);
    this.notify(listener);
  }

  async unsubscribe(service: string, listener: InstancesListener, group = ''): Promise<void> {
    const key = `${group}@@${service}`;
    const set = this.listeners.get(key);
    set?.delete(listener);
    if (set?.size === 0) this.listeners.delete(key);
  }

  async getInstances(_service: string, _group?: string): Promise<ServiceInstance[]> {
    return this.snapshot();
  }

  async isReachable(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  /** Each consumer gets its own copies, so one cannot alter what another sees. */
  private snapshot(): ServiceInstance[] {
    return this.instances.map((i) => ({ ...i, metadata: { ...i.metadata } }));
  }

  private notify(listener: InstancesListener): void {
    try {
      listener(this.snapshot());
    } catch (err) {
      this.logger.error(`static registry: instances listener threw: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}

/** Validates and normalises a static address list; `field` prefixes error paths, e.g. `MsRpcClient.providers[2]`. */
export function parseStaticAddresses(addresses: readonly StaticAddress[], field: string): ServiceInstance[] {
  if (!Array.isArray(addresses)) throw new InvalidOptionsError(field, 'expected an array of addresses');
  const seen = new Set<string>();
  return addresses.map((address, index) => {
    const path = `${field}[${index}]`;
    const instance = typeof address === 'string' ? parseHostPort(address, path) : parseObject(address, path);
    if (seen.has(instance.id)) throw new InvalidOptionsError(path, `duplicate address ${instance.id}`);
    seen.add(instance.id);
    return instance;
  });
}

function parseHostPort(address: string, path: string): ServiceInstance {
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (!match) throw new InvalidOptionsError(path, `expected "host:port", got ${JSON.stringify(address)}`);
  const port = Number(match[3]);
  checkInteger(`${path}.port`, port, 1, 65535);
  return build(match[1] ?? match[2], port, 1, {});
}

function parseObject(address: Exclude<StaticAddress, string>, path: string): ServiceInstance {
  if (address === null || typeof address !== 'object' || Array.isArray(address)) {
    throw new InvalidOptionsError(path, 'expected "host:port" or { host, port, weight?, metadata? }');
  }
  checkKnownKeys(path, address, ['host', 'port', 'weight', 'metadata']);
  const host = checkString(`${path}.host`, address.host);
  const port = checkInteger(`${path}.port`, address.port, 1, 65535);
  const weight = address.weight === undefined ? 1 : checkNumber(`${path}.weight`, address.weight, 0, 10_000);
  const metadata = address.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object') throw new InvalidOptionsError(`${path}.metadata`, 'expected an object');
  for (const [key, value] of Object.entries(metadata)) checkString(`${path}.metadata.${key}`, value, true);
  return build(host, port, weight, metadata);
}

function build(host: string, port: number, weight: number, metadata: Record<string, string>): ServiceInstance {
  return { id: instanceId(host, port), host, port, weight, healthy: true, enabled: true, cluster: 'DEFAULT', metadata: { ...metadata } };
}
