import { systemClock, type Clock } from '../common/clock.js';
import { consoleWarnLogger, type MsRpcLogger } from '../common/logger.js';
import { checkFunction, checkInteger, checkKnownKeys, checkString, definedOptions } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Options of {@link NacosRegistry}. It speaks the Nacos v1 naming HTTP API through the `nacos` npm
 * client, which Nacos 1.x and 2.x serve, and 3.0 too unless
 * `nacos.core.api.compatibility.client.enabled=false` (then HTTP 410). The client has no gRPC
 * (Nacos 2 native protocol) support.
 */
export interface NacosRegistryOptions {
  /**
   * Nacos servers as `host:port` (port defaults to 8848), an array or a comma-separated string.
   * Each call goes to a random one and falls over to the others. Required.
   */
  serverList: string | string[];
  /**
   * Namespace id.
   * @default 'public'
   */
  namespace: string;
  /**
   * Group used when a registration or lookup does not name one.
   * @default 'DEFAULT_GROUP'
   */
  group: string;
  /**
   * Nacos user, when the server has auth enabled. Needs `password` too. The client sends both as
   * query parameters on every request (no login/accessToken round trip), so use HTTPS-terminating
   * infrastructure or a private network.
   * @default undefined
   */
  username?: string;
  /**
   * Password of `username`.
   * @default undefined
   */
  password?: string;
  /**
   * Cluster this process registers in when a registration does not name one.
   * @default 'DEFAULT'
   */
  cluster: string;
  /**
   * Clusters whose instances are discovered. The client cannot subscribe to "all clusters": an empty
   * list would silently become `['DEFAULT']` for subscriptions, so the list is explicit.
   * @default ['DEFAULT']
   */
  discoveryClusters: string[];
  /**
   * Where the registry and the Nacos client log. The client's routine info chatter goes to `debug`.
   * @default consoleWarnLogger (warnings and errors to stderr)
   */
  logger: MsRpcLogger;
  /**
   * Time source of the heartbeat scheduler.
   * @default systemClock
   */
  clock: Clock;
}

export type NacosRegistryOptionsInput = Partial<NacosRegistryOptions> & Pick<NacosRegistryOptions, 'serverList'>;

export interface ResolvedNacosRegistryOptions extends Omit<NacosRegistryOptions, 'serverList'> {
  serverList: string[];
}

export const DEFAULT_NACOS_REGISTRY_OPTIONS: Omit<NacosRegistryOptions, 'serverList'> = {
  namespace: 'public',
  group: 'DEFAULT_GROUP',
  cluster: 'DEFAULT',
  discoveryClusters: ['DEFAULT'],
  logger: consoleWarnLogger,
  clock: systemClock,
};

const KNOWN_KEYS = [
  'serverList',
  'namespace',
  'group',
  'username',
  'password',
  'cluster',
  'discoveryClusters',
  'logger',
  'clock',
] as const;

/** Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field. */
export function resolveNacosRegistryOptions(partial: NacosRegistryOptionsInput): ResolvedNacosRegistryOptions {
  if (partial === null || typeof partial !== 'object') throw new InvalidOptionsError('nacos', 'expected an options object');
  checkKnownKeys('nacos', partial, KNOWN_KEYS);
  const defined = definedOptions(partial);
  const merged = { ...DEFAULT_NACOS_REGISTRY_OPTIONS, ...defined } as NacosRegistryOptions;

  const serverList = checkServerList(merged.serverList);
  checkString('nacos.namespace', merged.namespace);
  checkString('nacos.group', merged.group);
  checkString('nacos.cluster', merged.cluster);
  if (merged.group.includes('@@')) throw new InvalidOptionsError('nacos.group', 'must not contain "@@"');
  if (!Array.isArray(merged.discoveryClusters) || merged.discoveryClusters.length === 0) {
    throw new InvalidOptionsError('nacos.discoveryClusters', 'expected a non-empty array of cluster names');
  }
  merged.discoveryClusters.forEach((c, i) => {
    checkString(`nacos.discoveryClusters[${i}]`, c);
    if (c.includes(',')) throw new InvalidOptionsError(`nacos.discoveryClusters[${i}]`, 'must not contain ","');
  });
  if ((merged.username === undefined) !== (merged.password === undefined)) {
    throw new InvalidOptionsError(merged.username === undefined ? 'nacos.username' : 'nacos.password', 'username and password go together');
  }
  if (merged.username !== undefined) checkString('nacos.username', merged.username);
  if (merged.password !== undefined) checkString('nacos.password', merged.password);
  checkLogger(merged.logger);
  if (merged.clock === null || typeof merged.clock !== 'object') throw new InvalidOptionsError('nacos.clock', 'expected a Clock');
  checkFunction('nacos.clock.setTimeout', merged.clock.setTimeout);

  return { ...merged, serverList, discoveryClusters: [...merged.discoveryClusters] };
}

function checkServerList(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionsError('nacos.serverList', 'expected "host:port" entries (array or comma-separated string)');
  }
  return list.map((entry, i) => {
    const field = `nacos.serverList[${i}]`;
    const server = checkString(field, typeof entry === 'string' ? entry.trim() : entry);
    // The client appends ":8848" to entries without a colon and splits nothing else, so an IPv6
    // literal cannot be expressed; a host name is required for IPv6 servers.
    const match = /^([^:/\s]+)(?::(\d+))?$/.exec(server);
    if (!match) throw new InvalidOptionsError(field, `expected "host" or "host:port", got ${JSON.stringify(server)}`);
    if (match[2] !== undefined) checkInteger(`${field}.port`, Number(match[2]), 1, 65535);
    return server;
  });
}

function checkLogger(logger: unknown): void {
  if (logger === null || typeof logger !== 'object') throw new InvalidOptionsError('nacos.logger', 'expected a logger object');
  for (const method of ['log', 'warn', 'error'] as const) {
    checkFunction(`nacos.logger.${method}`, (logger as Record<string, unknown>)[method]);
  }
}
