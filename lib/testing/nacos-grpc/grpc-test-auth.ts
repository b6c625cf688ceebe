import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { NacosGrpcTestAuthOptions } from './grpc-test-options.js';

/**
 * The default auth plugin as a gRPC Nacos client meets it: a login over HTTP on the main port
 * (`POST /nacos/v3/auth/user/login`, or `/nacos/v1/auth/users/login` and `/nacos/v1/auth/login`;
 * username in the query or form, password in the form) answers `{accessToken, tokenTtl,
 * globalAdmin, username}`; the token then comes in `metadata.headers.accessToken` (keys are
 * case-sensitive). Tokens expire after `tokenTtl`.
 */
export class NacosGrpcTestAuth {
  private readonly tokens = new Map<string, number>();
  private server: http.Server | undefined;
  readonly logins: Array<{ path: string; ok: boolean }> = [];

  constructor(private readonly options: NacosGrpcTestAuthOptions) {}

  get ttlSeconds(): number {
    return this.options.tokenTtlSeconds ?? 18_000;
  }

  /** A token the plugin accepts now. */
  accepts(token: string | undefined): boolean {
    if (!token) return false;
    const expiresAt = this.tokens.get(token);
    if (expiresAt !== undefined && expiresAt > Date.now()) return true;
    return this.options.acceptToken?.(token) ?? false;
  }

  /** Every token issued so far stops working (a server whose secret key changed, or expiry). */
  expireAll(): void {
    this.tokens.clear();
  }

  reset(): void {
    this.tokens.clear();
    this.logins.length = 0;
  }

  async listen(host: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://nacos.invalid');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const param = (k: string) => url.searchParams.get(k) ?? form.get(k) ?? undefined;
    const v3 = url.pathname === '/nacos/v3/auth/user/login';
    const v1 = url.pathname === '/nacos/v1/auth/users/login' || url.pathname === '/nacos/v1/auth/login';
    if (req.method !== 'POST' || !(v1 || (v3 && !this.options.v1Only))) return reply(res, 404, { message: 'not found' });
    const ok = param('username') === this.options.username && param('password') === this.options.password;
    this.logins.push({ path: url.pathname, ok });
    if (!ok) return reply(res, 403, 'unknown user!');
    const accessToken = randomBytes(16).toString('hex');
    this.tokens.set(accessToken, Date.now() + this.ttlSeconds * 1000);
    reply(res, 200, { accessToken, tokenTtl: this.ttlSeconds, globalAdmin: true, username: this.options.username });
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}
