import { networkInterfaces } from 'node:os';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/**
 * The address to publish for a server bound to `host`: the host itself, or for a wildcard
 * bind this machine's first non-internal IPv4 address (loopback when there is none).
 */
export function advertisedHost(host: string): string {
  if (!WILDCARDS.has(host)) return host;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
