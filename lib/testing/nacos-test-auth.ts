import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { send, type NacosParams } from './nacos-test-params.js';

/**
 * Identity check of the Nacos default auth plugin: a `Authorization: Bearer` header or an
 * `accessToken` parameter (obtained from `/nacos/v1/auth/login`), else `username` + `password`
 * parameters on the call itself — which is what the `nacos` npm client does on every request.
 * Nacos 1.x/2.x answer a failed identity with HTTP 403.
 */
export class NacosTestAuth {
  private readonly tokens = new Set<string>();

  constructor(
    private readonly username: string | undefined,
    private readonly password: string | undefined,
  ) {}

  get enabled(): boolean {
    return this.username !== undefined;
  }

  reset(): void {
    this.tokens.clear();
  }

  authorized(req: IncomingMessage, params: NacosParams): boolean {
    if (!this.enabled) return true;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? params.get('accessToken');
    if (token) return this.tokens.has(token);
    return this.credentialsMatch(params);
  }

  /** A token this server issued (shared with a gRPC test server on the same main port). */
  accepts(token: string): boolean {
    return this.tokens.has(token);
  }

  login(res: ServerResponse, params: NacosParams): void {
    if (!this.enabled || this.credentialsMatch(params)) {
      const accessToken = randomBytes(16).toString('hex');
      this.tokens.add(accessToken);
      return send(res, 200, { accessToken, tokenTtl: 18_000, globalAdmin: true, username: params.get('username') });
    }
    send(res, 403, 'unknown user!');
  }

  reject(res: ServerResponse): void {
    send(res, 403, 'unknown user!');
  }

  private credentialsMatch(params: NacosParams): boolean {
    return params.get('username') === this.username && params.get('password') === this.password;
  }
}
