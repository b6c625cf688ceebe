import http from 'node:http';
import nacos from 'nacos';
import { systemClock } from '../../lib/common/clock.js';
import type { MsRpcLogger } from '../../lib/common/logger.js';
import { createNamingClient, type NamingClient } from '../../lib/registry/nacos-naming-client.js';
import type { NacosTestServer } from '../../lib/testing/index.js';

/** Logger that keeps every line, so tests stay quiet and can assert on warnings. */
export function recordingLogger(): MsRpcLogger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug'), verbose: at('verbose') };
}

/** A real `NacosNamingClient` (with the registry layer's close() fix) pointed at a test server. */
export function testNamingClient(
  server: NacosTestServer,
  config: { namespace?: string; username?: string; password?: string } = {},
): NamingClient {
  return createNamingClient(
    nacos,
    { serverList: [server.address], namespace: config.namespace ?? 'public', username: config.username, password: config.password },
    recordingLogger(),
    systemClock,
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a truthy value (which is returned) or the deadline passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** One raw v1 API call, parameters in the query string as the node client sends them; no keep-alive. */
export function nacosHttp(
  server: NacosTestServer,
  method: string,
  path: string,
  params: Record<string, string | number | boolean> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; json: () => any }> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: `${path}${query ? `?${query}` : ''}`, agent: false, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
