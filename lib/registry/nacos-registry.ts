import { boundedLogger } from '../common/logger.js';
import { NacosGrpcRegistry } from './nacos-grpc/nacos-grpc-registry.js';
import { NacosHttpRegistry } from './nacos-http-registry.js';
import {
  nacosIdentity,
  resolveNacosRegistryOptions,
  type NacosRegistryOptionsInput,
  type ResolvedNacosRegistryOptions,
} from './nacos-registry-options.js';
import type { Registration } from './registration.js';
import type { InstancesListener, Registry } from './registry.js';
import type { ServiceInstance } from './service-instance.js';

/**
 * {@link Registry} on Nacos, by `options.protocol`:
 * - `'grpc'` (default): Nacos's native gRPC protocol (Nacos 2.0+, the only one 3.2+ serves),
 *   see {@link NacosGrpcRegistry}. Instances live as long as the registry's connection.
 * - `'http'`: the v1 HTTP API through the `nacos` npm client (Nacos 1.x, or servers that still
 *   serve it), see {@link NacosHttpRegistry}. Instances live by beats; the client never reports an
 *   empty list.
 *
 * The client packages are optional peers, imported on first use (or by {@link loadDependencies}):
 * `@grpc/grpc-js` and `protobufjs` for `'grpc'`, `nacos` for `'http'`. A missing one fails the
 * calls with MissingDependencyError, whose message is the `npm install` to run.
 */
export class NacosRegistry implements Registry {
  readonly kind = 'nacos';
  /** `nacos://host:port,.../namespace`, the same for both protocols (see nacosIdentity). */
  readonly identity: string;
  /** @internal The resolved options (defaults filled in). */
  readonly options: ResolvedNacosRegistryOptions;
  private readonly impl: NacosHttpRegistry | NacosGrpcRegistry;

  /** @throws InvalidOptionsError naming the field. */
  constructor(options: NacosRegistryOptionsInput) {
    const resolved = resolveNacosRegistryOptions(options);
    this.options = { ...resolved, logger: boundedLogger(resolved.logger) };
    this.identity = nacosIdentity(this.options);
    this.impl = this.options.protocol === 'http' ? new NacosHttpRegistry(this.options) : new NacosGrpcRegistry(this.options);
  }

  /**
   * Imports the client packages of the configured protocol now, without contacting Nacos, so that
   * a missing one fails at startup (MsRpcModule calls it) rather than at the first registry call.
   * @throws MissingDependencyError naming the packages to install.
   */
  loadDependencies(): Promise<void> {
    return this.impl.loadDependencies();
  }

  register(reg: Registration): Promise<void> {
    return this.impl.register(reg);
  }

  deregister(reg: Registration): Promise<void> {
    return this.impl.deregister(reg);
  }

  subscribe(service: string, listener: InstancesListener, group?: string): Promise<void> {
    return this.impl.subscribe(service, listener, group);
  }

  unsubscribe(service: string, listener: InstancesListener, group?: string): Promise<void> {
    return this.impl.unsubscribe(service, listener, group);
  }

  getInstances(service: string, group?: string): Promise<ServiceInstance[]> {
    return this.impl.getInstances(service, group);
  }

  isReachable(): Promise<boolean> {
    return this.impl.isReachable();
  }

  /**
   * `grpc`: closes the connection, which removes this registry's instances from Nacos at once.
   * `http`: stops beats and polling without deregistering. Deregister first on a graceful shutdown.
   */
  close(): Promise<void> {
    return this.impl.close();
  }
}
