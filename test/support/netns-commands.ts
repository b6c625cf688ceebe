import { execFile } from 'node:child_process';

/**
 * Runs `ip` / `tc` asynchronously: a partition test keeps its client's heartbeats running in this
 * process, and a synchronous exec would stall the event loop they depend on.
 */
export function run(command: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const detail = (stderr || error.message).trim().split('\n')[0];
      reject(new Error(`\`${command} ${args.join(' ')}\` failed: ${detail}`));
    });
  });
}

/** `run` that never rejects: cleanup must go on past a step that already happened or failed. */
export async function runQuietly(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces created by these helpers: `msrpc-<pid>-<hex>`, so a sweep can tell whose they are. */
export const NS_PATTERN = /^msrpc-(\d+)-[0-9a-f]+$/;
/** Root-side veth ends: `mr<pid>x<hex><h|n>` (IFNAMSIZ leaves 15 characters). */
export const LINK_PATTERN = /^mr(\d+)x[0-9a-f]{3}[hn]$/;

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive but not ours to signal, so not ours to clean up either.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces (and stray root-side veth ends) that earlier runs left behind because they
 * died before their afterAll. Only names whose creating process is gone: a concurrent run in
 * another jest worker or checkout keeps its own. Deleting a namespace destroys its veth pair.
 */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const swept: string[] = [];
  const namespaces = await run('ip', ['netns', 'list']).catch(() => '');
  for (const line of namespaces.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    const match = name ? NS_PATTERN.exec(name) : null;
    if (match && !isAlive(Number(match[1])) && (await runQuietly('ip', ['netns', 'del', name]))) swept.push(name);
  }
  const links = await run('ip', ['-o', 'link', 'show']).catch(() => '');
  for (const line of links.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    const match = name ? LINK_PATTERN.exec(name) : null;
    if (match && !isAlive(Number(match[1])) && (await runQuietly('ip', ['link', 'del', name!]))) swept.push(name!);
  }
  return swept;
}

/** The MAC address of a link (in a namespace when `ns` is given), from `ip -o link show`. */
export async function macOf(link: string, ns?: string): Promise<string> {
  const out = await run('ip', [...(ns ? ['-n', ns] : []), '-o', 'link', 'show', 'dev', link]);
  const mac = /link\/ether\s+([0-9a-f:]{17})/.exec(out)?.[1];
  if (!mac) throw new Error(`no MAC address for ${link}${ns ? ` in ${ns}` : ''}: ${out.trim()}`);
  return mac;
}

/** Packets a link's root qdisc dropped, from `tc -s qdisc show`. */
export async function qdiscDrops(link: string, ns?: string): Promise<number> {
  const out = await run('tc', [...(ns ? ['-n', ns] : []), '-s', 'qdisc', 'show', 'dev', link]);
  return Number(/dropped (\d+)/.exec(out)?.[1] ?? 0);
}

/** IPv4 prefixes routed in the root namespace, to keep a test subnet clear of real ones. */
export async function routedPrefixes(): Promise<Array<{ network: number; bits: number }>> {
  const out = await run('ip', ['-o', '-4', 'route', 'show', 'table', 'all']);
  const prefixes: Array<{ network: number; bits: number }> = [];
  for (const line of out.split('\n')) {
    const match = /^(?:\w+\s+)?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?\s/.exec(line.trim());
    if (match) prefixes.push({ network: ipToInt(match[1]), bits: Number(match[2] ?? 32) });
  }
  return prefixes;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Whether two prefixes share an address. */
export function overlaps(a: { network: number; bits: number }, b: { network: number; bits: number }): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}
