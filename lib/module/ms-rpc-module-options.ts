import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import { CHANNEL_OPTION_KEYS, ChannelOptions, resolveChannelOptions } from '../channel/channel-options.js';
import { MsRpcLogger } from '../common/logger.js';
import { checkBoolean, checkInteger, checkLogger, checkOptionsObject, checkRegistry, checkString } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { BackoffOptions, resolveBackoffOptions } from '../liveness/backoff-options.js';
import { MAX_TIMER_DELAY_MS } from '../liveness/timer-delay.js';
import { DEFAULT_REGISTRY_TIMEOUT } from '../registry/registry-timeout.js';
import { CLIENT_OPTION_KEYS, resolveClientFields, type MsRpcClientOptions } from '../client/client-options.js';
import { resolveNacosRegistryOptions, type NacosRegistryOptionsInput } from '../registry/nacos-registry-options.js';
import type { Registry } from '../registry/registry.js';

/** Options of {@link MsRpcModule.forRoot}: what every client and server of the app shares. */
export interface MsRpcModuleOptions {
  /**
   * Nacos connection (server list, namespace, group, credentials, cluster). The module creates
   * one NacosRegistry, shares it, and closes it on shutdown (after servers deregistered).
   * @default undefined (direct mode: clients name their `providers`)
   */
  nacos?: NacosRegistryOptionsInput;
  /**
   * Any Registry instance instead of `nacos` (owned and closed by the caller).
   * @default undefined
   */
  registry?: Registry;
  /**
   * How long (ms) each registry call made at startup or shutdown is waited for: closing the
   * module's registry on shutdown, and the default `registryTimeout` of the servers from
   * `createServer` (register, deregister) and of the clients (subscribe, unsubscribe), unless they
   * set their own. A registry that is down or never answers then delays `app.close()` by this
   * much per call at most.
   * @default 3000
   */
  registryTimeout?: number;
  /**
   * Settings of the shared channel cache: protocol (codec, limits), liveness (heartbeats,
   * connect attempt timeout), connections per provider, and how clients connect to providers:
   * `tls` (Node tls.connect options) and `authToken`.
   * @default resolveChannelOptions() defaults
   */
  channel?: Partial<ChannelOptions>;
  /**
   * Reconnect backoff of the shared watchdog.
   * @default DEFAULT_BACKOFF_OPTIONS
   */
  backoff?: Partial<BackoffOptions>;
  /**
   * Defaults for every client registered with `registerClients` (timeout, balancer, snapshotDir...).
   * @default {}
   */
  clientDefaults?: Partial<MsRpcClientOptions>;
  /**
   * Collect call and connection metrics in a shared RpcMetrics provider.
   * @default true
   */
  metrics?: boolean;
  /**
   * Make the module's providers (and the clients of `forRoot`) global.
   * @default false
   */
  isGlobal?: boolean;
  /**
   * Logger for the shared layers.
   * @default a Nest Logger with context 'MsRpc'
   */
  logger?: MsRpcLogger;
}

export interface ResolvedMsRpcModuleOptions {
  nacos?: NacosRegistryOptionsInput;
  registry?: Registry;
  registryTimeout: number;
  channel: ChannelOptions;
  backoff: BackoffOptions;
  clientDefaults: Partial<MsRpcClientOptions>;
  metrics: boolean;
  isGlobal: boolean;
  logger?: MsRpcLogger;
}

const MODULE_KEYS = ['nacos', 'registry', 'registryTimeout', 'channel', 'backoff', 'clientDefaults', 'metrics', 'isGlobal', 'logger'];

/**
 * Validates once, at startup, every nested object included; errors name the field
 * (`MsRpcModule.channel.heartbeatInterval`, `MsRpcModule.clientDefaults.balancer.warmupMs`).
 */
export function resolveModuleOptions(options: MsRpcModuleOptions): ResolvedMsRpcModuleOptions {
  checkOptionsObject('MsRpcModule', options, MODULE_KEYS);
  if (options.nacos && options.registry) {
    throw new InvalidOptionsError('MsRpcModule.registry', 'give either `nacos` or `registry`, not both');
  }
  // The registry is built later, by a provider: its options are checked now, under this path.
  if (options.nacos !== undefined) resolveNacosRegistryOptions(options.nacos, 'MsRpcModule.nacos');
  if (options.registry !== undefined) checkRegistry('MsRpcModule.registry', options.registry);
  if (options.logger !== undefined) checkLogger('MsRpcModule.logger', options.logger);
  const metrics = options.metrics ?? true;
  const isGlobal = options.isGlobal ?? false;
  checkBoolean('MsRpcModule.metrics', metrics);
  checkBoolean('MsRpcModule.isGlobal', isGlobal);
  const clientDefaults = options.clientDefaults ?? {};
  checkClientOptions(clientDefaults, 'MsRpcModule.clientDefaults');
  return {
    nacos: options.nacos,
    registry: options.registry,
    registryTimeout: checkInteger('MsRpcModule.registryTimeout', options.registryTimeout ?? DEFAULT_REGISTRY_TIMEOUT, 1, MAX_TIMER_DELAY_MS),
    channel: resolveChannelOptions(options.channel ?? {}, 'MsRpcModule.channel'),
    backoff: resolveBackoffOptions(options.backoff ?? {}, 'MsRpcModule.backoff'),
    clientDefaults,
    metrics,
    isGlobal,
    logger: options.logger,
  };
}

/** Client options that belong to the module's shared channel cache and watchdog. */
const CHANNEL_LEVEL_KEYS = new Set<string>([...CHANNEL_OPTION_KEYS, 'backoff', 'retryStrategy']);

/**
 * Checks client options given to the module (`clientDefaults`, a registration) under `path`:
 * channel-level settings are refused (the clients share the module's channel cache, so they
 * would be ignored), the rest is validated as MsRpcClient would.
 */
export function checkClientOptions(options: unknown, path: string, extraKeys: readonly string[] = []): void {
  const o = checkOptionsObject(path, options, [...CLIENT_OPTION_KEYS, ...extraKeys]);
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (CHANNEL_LEVEL_KEYS.has(key)) {
      throw new InvalidOptionsError(
        `${path}.${key}`,
        'a channel setting: clients of the module share its channel cache, set it in forRoot({ channel / backoff })',
      );
    }
    if (!extraKeys.includes(key)) own[key] = value;
  }
  resolveClientFields(own, path);
}

/**
 * Checks one entry of `registerClients` (or what a `registerClientsAsync` factory returned) under
 * `path` (`MsRpcModule.registerClients[0]`): a `service` is always needed (it is what discovery
 * looks up, or the label of a direct-mode client).
 */
export function checkClientRegistration(entry: unknown, path: string, withName: boolean): void {
  checkClientOptions(entry, path, withName ? ['name'] : []);
  const { name, service } = entry as { name?: unknown; service?: unknown };
  if (withName && (name === undefined || name === null || name === '')) {
    throw new InvalidOptionsError(`${path}.name`, 'expected the injection token of the client (a string, symbol or class)');
  }
  checkString(`${path}.service`, service);
}

/** One client to provide: `@Inject(name) client: ClientProxy`. */
export interface MsRpcClientRegistration extends Partial<MsRpcClientOptions> {
  /** Injection token of the client. */
  name: InjectionToken;
  /** Service to discover (or, in direct mode, just a label). */
  service: string;
}

/** Options of {@link MsRpcModule.forRootAsync}: `forRoot`'s options from a factory with injected dependencies. */
export interface MsRpcModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /**
   * Providers passed to `useFactory`, in order (from `imports` or global modules).
   * @default []
   */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Returns (or resolves to) the {@link MsRpcModuleOptions}; validated when it resolves. */
  useFactory: (...args: never[]) => MsRpcModuleOptions | Promise<MsRpcModuleOptions>;
  /** Decided before the factory runs, since it shapes the module. @default false */
  isGlobal?: boolean;
}

/** One client of {@link MsRpcModule.registerClientsAsync}: its options from a factory with injected dependencies. */
export interface MsRpcClientAsyncRegistration extends Pick<ModuleMetadata, 'imports'> {
  /** Injection token of the client. */
  name: InjectionToken;
  /**
   * Providers passed to `useFactory`, in order.
   * @default []
   */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Returns (or resolves to) the client's options, as a {@link MsRpcClientRegistration} without `name`. */
  useFactory: (
    ...args: never[]
  ) => Omit<MsRpcClientRegistration, 'name'> | Promise<Omit<MsRpcClientRegistration, 'name'>>;
}
