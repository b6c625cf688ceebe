import { randomBytes, randomInt } from 'node:crypto';
import {
  intToIp,
  ipToInt,
  macOf,
  overlaps,
  qdiscDrops,
  routedPrefixes,
  run,
  runQuietly,
  sweepStaleNamespaces,
} from './netns-commands.js';

/**
 * A network namespace joined to the root namespace by a veth pair with a private /30 (root end
 * .1, namespace end .2), for tests that need a peer whose link can be cut. Nothing is routed
 * anywhere else: the only route added is the /30 itself.
 *
 * The partition is a silent drop: a root qdisc `pfifo limit 0` on both veth ends discards every
 * packet either side sends (netem and tc drop actions need kernel modules this kind of VM often
 * lacks; a zero-length fifo is built into every kernel). Nothing is sent back: no RST, no FIN, no
 * ICMP, and the local TCP stack is told nothing it would report to a socket; it keeps
 * retransmitting into the void, as it would behind a dead switch. Neighbour entries are permanent
 * so that ARP, dropped as well, cannot time out into a locally generated "host unreachable".
 */
export interface NetnsLab {
  readonly ns: string;
  /** Veth end in the root namespace, and its address. */
  readonly hostLink: string;
  readonly hostIp: string;
  /** Veth end inside the namespace, and its address (where its servers listen). */
  readonly nsLink: string;
  readonly nsIp: string;
  readonly partitioned: boolean;
  /** Starts dropping every packet on the link, both ways. */
  partition(): Promise<void>;
  /** Stops dropping; returns how many packets each side dropped meanwhile. */
  heal(): Promise<{ hostDropped: number; nsDropped: number }>;
  /** Deletes the namespace (which destroys the veth pair). Idempotent, never throws. */
  destroy(): Promise<void>;
}

/** Set to `off` to skip partition tests as if namespaces could not be created. */
export const NETNS_ENV = 'MSRPC_NETNS';
const TEST_NETWORK = { network: ipToInt('10.213.0.0'), bits: 16 };

/** Whether this process can build a lab, and if not why (for a skip message). */
export async function probeNetns(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.env[NETNS_ENV] === 'off') return { ok: false, reason: `${NETNS_ENV}=off` };
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)' };
  for (const tool of ['ip', 'tc']) {
    if (!(await runQuietly(tool, ['-V']))) return { ok: false, reason: `no \`${tool}\` (iproute2) on PATH` };
  }
  // A full rehearsal: creating the namespace, the veth pair, `ip netns exec` and the drop qdisc
  // can each be refused (containers without CAP_SYS_ADMIN, a kernel without veth).
  let lab: NetnsLab | undefined;
  try {
    lab = await createNetnsLab();
    await run('ip', ['netns', 'exec', lab.ns, 'true']);
    await lab.partition();
    await lab.heal();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot create network namespaces: ${(err as Error).message}` };
  } finally {
    await lab?.destroy();
  }
}

/** Creates a lab with names unique to this process, after sweeping what dead runs left. */
export async function createNetnsLab(): Promise<NetnsLab> {
  await sweepStaleNamespaces();
  const tag = randomBytes(3).toString('hex');
  const ns = `msrpc-${process.pid}-${tag}`;
  const hostLink = `mr${process.pid}x${tag.slice(0, 3)}h`;
  const nsLink = `mr${process.pid}x${tag.slice(0, 3)}n`;
  const subnet = await freeSubnet();
  const hostIp = intToIp(subnet + 1);
  const nsIp = intToIp(subnet + 2);
  let partitioned = false;
  let destroyed: Promise<void> | undefined;
  const inNs = ['-n', ns];

  const destroy = () =>
    (destroyed ??= (async () => {
      await runQuietly('ip', ['netns', 'del', ns]);
      // Only there when the pair was never moved into the namespace.
      await runQuietly('ip', ['link', 'del', hostLink]);
    })());

  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nsLink, 'netns', ns]);
    // No IPv6 link-local chatter (DAD, router solicitations): the link carries only the test's traffic.
    await runQuietly('ip', ['link', 'set', 'dev', hostLink, 'addrgenmode', 'none']);
    await runQuietly('ip', [...inNs, 'link', 'set', 'dev', nsLink, 'addrgenmode', 'none']);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostLink]);
    await run('ip', [...inNs, 'addr', 'add', `${nsIp}/30`, 'dev', nsLink]);
    await run('ip', ['link', 'set', 'dev', hostLink, 'up']);
    await run('ip', [...inNs, 'link', 'set', 'dev', nsLink, 'up']);
    await run('ip', [...inNs, 'link', 'set', 'dev', 'lo', 'up']);
    const [hostMac, nsMac] = await Promise.all([macOf(hostLink), macOf(nsLink, ns)]);
    await run('ip', ['neigh', 'replace', nsIp, 'lladdr', nsMac, 'dev', hostLink, 'nud', 'permanent']);
    await run('ip', [...inNs, 'neigh', 'replace', hostIp, 'lladdr', hostMac, 'dev', nsLink, 'nud', 'permanent']);
  } catch (err) {
    await destroy();
    throw err;
  }

  const drop = (on: boolean) => {
    const qdisc = on ? ['replace', 'dev'] : ['del', 'dev'];
    const tail = on ? ['root', 'pfifo', 'limit', '0'] : ['root'];
    return Promise.all([
      run('tc', ['qdisc', ...qdisc, hostLink, ...tail]),
      run('tc', [...inNs, 'qdisc', ...qdisc, nsLink, ...tail]),
    ]);
  };

  return {
    ns,
    hostLink,
    hostIp,
    nsLink,
    nsIp,
    get partitioned() {
      return partitioned;
    },
    async partition() {
      await drop(true);
      partitioned = true;
    },
    async heal() {
      if (!partitioned) return { hostDropped: 0, nsDropped: 0 };
      // The counters live in the qdiscs: read them before removing those.
      const [hostDropped, nsDropped] = await Promise.all([qdiscDrops(hostLink), qdiscDrops(nsLink, ns)]);
      await drop(false);
      partitioned = false;
      return { hostDropped, nsDropped };
    },
    destroy,
  };
}

/**
 * A random /30 of 10.213.0.0/16 that no route of the root namespace covers (another run's lab,
 * or a real network that happens to use it), so the link never shadows anything.
 */
async function freeSubnet(): Promise<number> {
  const routed = await routedPrefixes();
  for (let attempt = 0; attempt < 32; attempt++) {
    const network = TEST_NETWORK.network + randomInt(0, 1 << 14) * 4;
    const candidate = { network, bits: 30 };
    if (!routed.some((r) => overlaps(r, candidate))) return network;
  }
  throw new Error('no free /30 in 10.213.0.0/16 (routes already cover it)');
}
