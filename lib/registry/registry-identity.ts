/**
 * The identity of a registry reached through a list of servers: `kind://servers/namespace`, with
 * the servers trimmed, lower-cased, given their default port when they have none, deduplicated
 * and sorted. Two clients configured with the same servers in another order or spacing get the
 * same identity; another cluster or namespace gets another one.
 */
export function serverListIdentity(kind: string, servers: readonly string[], namespace: string, defaultPort: number): string {
  const normalised = new Set<string>();
  for (const raw of servers) {
    const server = raw.trim().toLowerCase();
    if (server.length === 0) continue;
    normalised.add(/:\d+$/.test(server) ? server : `${server}:${defaultPort}`);
  }
  return `${kind}://${[...normalised].sort().join(',')}/${namespace}`;
}
