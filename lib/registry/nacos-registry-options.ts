import { serverListIdentity } from './registry-identity.js';
import { systemClock, type Clock } from '../common/clock.js';
import { consoleWarnLogger, type MsRpcLogger } from '../common/logger.js';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkKnownKeys,
  checkLogger,
  checkOneOf,
  checkOptionsObject,
  checkString,
  definedOptions,
} from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';

import { resolveNacosGrpcOptions, type NacosGrpcOptions } from './nacos-grpc/nacos-grpc-options.js';

/** How the registry talks to Nacos. */
export type NacosProtocol = 'grpc' | 'http';

/** TLS of the gRPC connection (Nacos serves TLS on the same gRPC port). */
export interface NacosTlsOptions {
  /**
   * PEM CA certificate(s) the server certificate must chain to.
   * @default undefined (Node's default CAs)
   */
  ca?: string | Buffer;
  /**
   * PEM client certificate, for servers that require mutual TLS. Needs `key`.
   * @default undefined
   */
  cert?: string | Buffer;
  /**
   * PEM private key of `cert`.
   * @default undefined
   */
  key?: string | Buffer;
  /**
   * Name the server certificate must carry, when it differs from the host in `serverList`.
   * @default undefined (the host)
   */
  servername?: string;
  /**
   * Verify the server certificate (chain and name). Turn off only for testing.
   * @default true
   */
  rejectUnauthorized?: boolean;
}

/**
 * Options of {@link NacosRegistry}.
 *
 * - `protocol: 'grpc'` (default) speaks Nacos's native gRPC naming protocol, served by Nacos 2.0
 *   and later and the only client protocol of Nacos 3.2+ (the v1/v2 HTTP APIs are gone there
 *   unless an operator installs the legacy adapter). It connects to each server's main port + 1000.
 * - `protocol: 'http'` uses the `nacos` npm client, which speaks the v1 HTTP naming API: Nacos 1.x,
 *   2.x, 3.0-3.1, and 3.2+ only with the legacy adapter.
 */
export interface NacosRegistryOptions {
  /**
   * Nacos servers as `host:port` (the main port; defaults to 8848), an array or a comma-separated
   * string. With `grpc`, an entry may start with `https://` to log in over HTTPS (the login goes to
   * the main port), IPv6 literals go in brackets, and the client holds one connection, to one server
   * at a time, moving to the next on failure; with `http`, each call goes to a random one and falls
   * over to the others. Required.
   */
  serverList: string | string[];
  /**
   * `'grpc'` (Nacos 2.0+) or `'http'` (the v1 API through the `nacos` npm client).
   * @default 'grpc'
   */
  protocol: NacosProtocol;
  /**
   * gRPC port of every server, for servers reached through a port mapping. Otherwise each server's
   * gRPC port is its main port + `grpcPortOffset`. `grpc` only.
   * @default undefined
   */
  grpcPort?: number;
  /**
   * Offset of the gRPC port from the main port (the Java client's `${prefix}.server.grpc.port.offset`).
   * @default 1000
   */
  grpcPortOffset: number;
  /**
   * TLS for the gRPC connection: `true` for the default CAs, or CA/client certificates. With
   * `http`, only `true`/`false` (the `nacos` client's `ssl` switch).
   * @default false
   */
  tls: boolean | NacosTlsOptions;
  /**
   * Timings of the gRPC client (the Java client's defaults). `grpc` only.
   * @default DEFAULT_NACOS_GRPC_OPTIONS
   */
  grpc?: Partial<NacosGrpcOptions>;
  /**
   * Namespace id (`public` is the default namespace).
   * @default 'public'
   */
  namespace: string;
  /**
   * Group used when a registration or lookup does not name one.
   * @default 'DEFAULT_GROUP'
   */
  group: string;
  /**
   * Nacos user, when the server has auth enabled (the default from Nacos 3.3). Needs `password`
   * too. With `grpc` the client logs in over HTTP on the main port (`/nacos/v3/auth/user/login`,
   * falling back to the v1 path) and sends the access token with every naming request, logging in
   * again before it expires and after a 403. With `http` the `nacos` client sends both as query
   * parameters on every request, so use HTTPS-terminating infrastructure or a private network.
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

/** One server of the list, as the gRPC client reaches it. */
export interface NacosServerAddress {
  host: string;
  /** Main (HTTP) port: the login goes there. */
  port: number;
  grpcPort: number;
  /** Scheme of the login request. */
  scheme: 'http' | 'https';
}

export interface ResolvedNacosRegistryOptions extends Omit<NacosRegistryOptions, 'serverList' | 'grpc'> {
  /** `host:port` entries, scheme removed. */
  serverList: string[];
  servers: NacosServerAddress[];
  grpc: NacosGrpcOptions;
}

export const DEFAULT_NACOS_REGISTRY_OPTIONS: Omit<NacosRegistryOptions, 'serverList'> = {
  protocol: 'grpc',
  grpcPortOffset: 1000,
  tls: false,
  namespace: 'public',
  group: 'DEFAULT_GROUP',
  cluster: 'DEFAULT',
  discoveryClusters: ['DEFAULT'],
  logger: consoleWarnLogger,
  clock: systemClock,
};

const KNOWN_KEYS = [
  'serverList',
  'protocol',
  'grpcPort',
  'grpcPortOffset',
  'tls',
  'grpc',
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
export function resolveNacosRegistryOptions(partial: NacosRegistryOptionsInput, prefix = 'NacosRegistry'): ResolvedNacosRegistryOptions {
  checkOptionsObject(prefix, partial, KNOWN_KEYS);
  const defined = definedOptions(partial);
  const merged = { ...DEFAULT_NACOS_REGISTRY_OPTIONS, ...defined } as NacosRegistryOptions;

  const protocol = checkOneOf(`${prefix}.protocol`, merged.protocol, ['grpc', 'http'] as const);
  if (merged.grpcPort !== undefined) checkInteger(`${prefix}.grpcPort`, merged.grpcPort, 1, 65535);
  checkInteger(`${prefix}.grpcPortOffset`, merged.grpcPortOffset, -65535, 65535);
  const parsed = checkServerList(merged.serverList, protocol, prefix);
  const servers = parsed.map((s, i) => {
    const grpcPort = merged.grpcPort ?? s.port + merged.grpcPortOffset;
    if (grpcPort < 1 || grpcPort > 65535) {
      throw new InvalidOptionsError(`${prefix}.serverList[${i}]`, `gRPC port ${s.port} + grpcPortOffset = ${grpcPort} is out of range`);
    }
    return { ...s, grpcPort };
  });
  const serverList = parsed.map((s) => `${s.host}:${s.port}`);
  checkTls(merged.tls, protocol, prefix);
  const grpc = resolveNacosGrpcOptions(merged.grpc, `${prefix}.grpc`);
  // Not "": Java clients send "public" for the default namespace and the gRPC handlers do not map
  // "" to it, so an empty namespace would be one of its own, invisible to every Java client.
  checkString(`${prefix}.namespace`, merged.namespace);
  checkString(`${prefix}.group`, merged.group);
  checkString(`${prefix}.cluster`, merged.cluster);
  if (merged.group.includes('@@')) throw new InvalidOptionsError(`${prefix}.group`, 'must not contain "@@"');
  if (!Array.isArray(merged.discoveryClusters) || merged.discoveryClusters.length === 0) {
    throw new InvalidOptionsError(`${prefix}.discoveryClusters`, 'expected a non-empty array of cluster names');
  }
  merged.discoveryClusters.forEach((c, i) => {
    checkString(`${prefix}.discoveryClusters[${i}]`, c);
    if (c.includes(',')) throw new InvalidOptionsError(`${prefix}.discoveryClusters[${i}]`, 'must not contain ","');
  });
  if ((merged.username === undefined) !== (merged.password === undefined)) {
    throw new InvalidOptionsError(merged.username === undefined ? `${prefix}.username` : `${prefix}.password`, 'username and password go together');
  }
  if (merged.username !== undefined) checkString(`${prefix}.username`, merged.username);
  if (merged.password !== undefined) checkString(`${prefix}.password`, merged.password);
  checkLogger(`${prefix}.logger`, merged.logger);
  if (merged.clock === null || typeof merged.clock !== 'object') throw new InvalidOptionsError(`${prefix}.clock`, 'expected a Clock');
  checkFunction(`${prefix}.clock.setTimeout`, merged.clock.setTimeout);

  return { ...merged, protocol, serverList, servers, grpc, discoveryClusters: [...merged.discoveryClusters] };
}

function checkServerList(value: unknown, protocol: NacosProtocol, prefix: string): Array<Omit<NacosServerAddress, 'grpcPort'>> {
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionsError(`${prefix}.serverList`, 'expected "host:port" entries (array or comma-separated string)');
  }
  return list.map((entry, i) => {
    const field = `${prefix}.serverList[${i}]`;
    const server = checkString(field, typeof entry === 'string' ? entry.trim() : entry);
    // The `nacos` client appends ":8848" to entries without a colon and splits nothing else, so an
    // IPv6 literal cannot be expressed there; gRPC takes `[::1]:8848`.
    const match = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]+)(?::(\d+))?$/.exec(server);
    if (!match || (protocol === 'http' && (match[1] !== undefined || match[2].startsWith('[')))) {
      const expected = protocol === 'http' ? '"host" or "host:port"' : '"host", "host:port" or "https://host:port"';
      throw new InvalidOptionsError(field, `expected ${expected}, got ${JSON.stringify(server)}`);
    }
    const port = match[3] === undefined ? 8848 : checkInteger(`${field}.port`, Number(match[3]), 1, 65535);
    return { host: match[2].replace(/^\[(.*)\]$/, '$1'), port, scheme: match[1] === 'https' ? 'https' : 'http' };
  });
}

function checkTls(tls: unknown, protocol: NacosProtocol, prefix: string): void {
  if (typeof tls === 'boolean') return;
  if (protocol === 'http') throw new InvalidOptionsError(`${prefix}.tls`, 'the http protocol takes only true or false');
  if (tls === null || typeof tls !== 'object') throw new InvalidOptionsError(`${prefix}.tls`, 'expected a boolean or TLS options');
  checkKnownKeys(`${prefix}.tls`, tls, ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized']);
  const t = tls as NacosTlsOptions;
  for (const key of ['ca', 'cert', 'key'] as const) {
    const v = t[key];
    if (v !== undefined && typeof v !== 'string' && !Buffer.isBuffer(v)) {
      throw new InvalidOptionsError(`${prefix}.tls.${key}`, 'expected a PEM string or Buffer');
    }
  }
  if ((t.cert === undefined) !== (t.key === undefined)) {
    throw new InvalidOptionsError(t.cert === undefined ? `${prefix}.tls.cert` : `${prefix}.tls.key`, 'cert and key go together');
  }
  if (t.servername !== undefined) checkString(`${prefix}.tls.servername`, t.servername);
  if (t.rejectUnauthorized !== undefined) checkBoolean(`${prefix}.tls.rejectUnauthorized`, t.rejectUnauthorized);
}

/**
 * The registry identity of a Nacos cluster and namespace (Registry.identity), the same for both
 * protocols: they reach the same registry data.
 */
export function nacosIdentity(options: Pick<ResolvedNacosRegistryOptions, 'serverList' | 'namespace'>): string {
  return serverListIdentity('nacos', options.serverList, options.namespace, 8848);
}
