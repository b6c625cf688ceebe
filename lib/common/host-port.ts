/** `host:port` as URLs and gRPC targets write it: an IPv6 literal in brackets (`[::1]:8848`). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
