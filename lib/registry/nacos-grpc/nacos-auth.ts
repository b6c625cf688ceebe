import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../common/clock.js';
import { quotePeer, type MsRpcLogger } from '../../common/logger.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { NacosServerAddress, NacosTlsOptions } from '../nacos-registry-options.js';

const LOGIN_V3 = '/nacos/v3/auth/user/login';
const LOGIN_V1 = '/nacos/v1/auth/users/login';

interface Token {
  value: string;
  /** Clock time after which a request should not use it any more (refresh point). */
  refreshAt: number;
}

export interface NacosAuthConfig {
  username: string;
  password: string;
  servers: readonly NacosServerAddress[];
  tls: boolean | NacosTlsOptions;
  loginTimeout: number;
}

/**
 * Username/password auth of the Java client (`NacosClientAuthServiceImpl`, `HttpLoginProcessor`):
 * a login over HTTP on a server's main port, `POST /nacos/v3/auth/user/login` (username in the
 * query, password in the form body), falling back to `/nacos/v1/auth/users/login` on 404/501
 * (servers before 3.0). The token goes into `metadata.headers.accessToken` of every naming
 * request. It is renewed before it expires (at `ttl - random(ttl/15 .. ttl/10)`, as Java does)
 * and after the server refuses it (403). Logins are single-flight.
 */
export class NacosAuth {
  private token: Token | undefined;
  private login: Promise<Token> | undefined;
  private nextServer = 0;

  constructor(
    private readonly config: NacosAuthConfig,
    private readonly clock: Clock,
    private readonly logger: MsRpcLogger,
    private readonly random: () => number = Math.random,
  ) {}

  /** Headers for a secured request, logging in first when there is no fresh token. */
  async headers(preferred?: NacosServerAddress): Promise<Record<string, string>> {
    const token = this.token && this.clock.now() < this.token.refreshAt ? this.token : await this.relogin(preferred);
    return { accessToken: token.value };
  }

  /** The server refused `token` (403): the next request logs in again, unless someone already did. */
  invalidate(token: string | undefined): void {
    if (this.token && this.token.value === token) this.token = undefined;
  }

  private relogin(preferred?: NacosServerAddress): Promise<Token> {
    this.login ??= this.loginAnyServer(preferred).finally(() => (this.login = undefined));
    return this.login;
  }

  private async loginAnyServer(preferred?: NacosServerAddress): Promise<Token> {
    const servers = this.config.servers;
    const order = preferred ? [preferred, ...servers.filter((s) => s !== preferred)] : rotate(servers, this.nextServer++);
    const failures: string[] = [];
    let lastError: unknown;
    for (const server of order) {
      try {
        const token = await this.loginTo(server);
        this.token = token;
        return token;
      } catch (err) {
        lastError = err;
        failures.push(`${server.host}:${server.port}: ${(err as Error).message}`);
      }
    }
    this.logger.warn(`nacos: login failed on every server: ${failures.join('; ')}`);
    throw new RegistryError(`Nacos login failed (${failures.join('; ')})`, { cause: lastError });
  }

  private async loginTo(server: NacosServerAddress): Promise<Token> {
    let answer = await this.post(server, LOGIN_V3);
    if (answer.status === 404 || answer.status === 501) answer = await this.post(server, LOGIN_V1);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status} ${quotePeer(answer.body, 120)}`);
    let parsed: { accessToken?: unknown; tokenTtl?: unknown };
    try {
      parsed = JSON.parse(answer.body) as typeof parsed;
    } catch {
      throw new Error(`login answer is not JSON: ${quotePeer(answer.body, 120)}`);
    }
    if (typeof parsed.accessToken !== 'string' || parsed.accessToken === '') throw new Error('login answer without accessToken');
    const ttlMs = Math.max(1, Number(parsed.tokenTtl ?? 18_000)) * 1000;
    // Java refreshes at ttl - random(ttl/15 .. ttl/10): spread, and well before expiry.
    const margin = ttlMs / 15 + this.random() * (ttlMs / 10 - ttlMs / 15);
    this.logger.debug?.(`nacos: logged in on ${server.host}:${server.port}, token valid ${ttlMs / 1000} s`);
    return { value: parsed.accessToken, refreshAt: this.clock.now() + ttlMs - margin };
  }

  private post(server: NacosServerAddress, path: string): Promise<{ status: number; body: string }> {
    const query = new URLSearchParams({ username: this.config.username }).toString();
    const form = new URLSearchParams({ password: this.config.password }).toString();
    const tls = typeof this.config.tls === 'object' ? this.config.tls : {};
    const secure = server.scheme === 'https';
    const request = secure ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: server.host,
          port: server.port,
          method: 'POST',
          path: `${path}?${query}`,
          agent: false,
          timeout: this.config.loginTimeout,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) },
          ...(secure ? { ca: tls.ca, servername: tls.servername, rejectUnauthorized: tls.rejectUnauthorized !== false } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 64 * 1024) return req.destroy(new Error('login answer larger than 64 KiB'));
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no login answer within ${this.config.loginTimeout} ms`)));
      req.on('error', reject);
      req.end(form);
    });
  }
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
