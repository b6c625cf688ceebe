import { afterEach, describe, expect, it } from '@jest/globals';
import { firstValueFrom } from 'rxjs';
import type { Balancer, Candidate } from '../../../lib/balancer/balancer.js';
import { ChannelCache } from '../../../lib/channel/channel-cache.js';
import { resolveChannelOptions } from '../../../lib/channel/channel-options.js';
import { ReconnectWatchdog } from '../../../lib/channel/reconnect-watchdog.js';
import type { ProviderRouter } from '../../../lib/client/provider-router.js';
import { MAX_ROUTES } from '../../../lib/client/route-table.js';
import { MsRpcClient, NoHandlerError, NoProviderError, StaticRegistry, type MsRpcClientOptions } from '../../../lib/index.js';
import type { StaticAddress } from '../../../lib/registry/static-registry.js';
// In-memory providers that speak the protocol (the bench's large-service rows use them too).
import { MemoryProviders } from '../../../bench/scale/memory-sockets.js';

/**
 * Issue 19: which providers a client connects to (docs/lazy-connections.md). Providers are in-memory peers
 * speaking the real protocol; the registry delivers them with the metadata MsRpcServer registers.
 */

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** Provider i at 10.0.0.i:7000 serving `groups[i]`'s patterns (`g<k>.a`, `g<k>.b`) and event `g<k>.done`. */
function address(i: number): string {
  return `10.0.0.${i}:7000`;
}

function servedOf(group: number): { patterns: string[]; events: string[] } {
  return { patterns: [`g${group}.a`, `g${group}.b`], events: [`g${group}.done`] };
}

function registration(i: number, group: number | undefined): StaticAddress {
  const metadata =
    group === undefined
      ? undefined
      : { patterns: JSON.stringify(servedOf(group).patterns), events: JSON.stringify(servedOf(group).events), startTime: '1' };
  return { host: `10.0.0.${i}`, port: 7000, ...(metadata ? { metadata } : {}) };
}

describe('lazy connections', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** 30 providers, provider i in group i % 3 (undeclared: no metadata, as a static list has). */
  function setup(options: Partial<MsRpcClientOptions> = {}, groups: (i: number) => number | undefined = (i) => i % 3, count = 30) {
    const groupOf = new Map<string, number | undefined>();
    const addresses = Array.from({ length: count }, (_, i) => {
      groupOf.set(address(i), groups(i));
      return registration(i, groups(i));
    });
    const providers = new MemoryProviders((a) => servedOf(groupOf.get(a) ?? 0));
    const channels = new ChannelCache(resolveChannelOptions({ connectionsPerProvider: 1 }), quiet, undefined, providers.factory);
    const watchdog = new ReconnectWatchdog(channels, { initialDelay: 50, maxDelay: 200 }, quiet);
    const registry = new StaticRegistry(addresses);
    const client = new MsRpcClient({ service: 'svc', registry, snapshotDir: false, logger: quiet, timeout: 2000, ...options }, { channels });
    cleanups.push(async () => {
      await client.close();
      watchdog.close();
      channels.close();
      providers.destroyAll();
    });
    const join = (i: number, group: number | undefined) => {
      groupOf.set(address(i), group);
      addresses.push(registration(i, group));
      registry.setInstances(addresses);
    };
    const router = (client as unknown as { router: ProviderRouter }).router;
    return { client, providers, channels, registry, join, router, opened: () => [...providers.opened.keys()].sort() };
  }

  const group = (g: number, count = 30) => Array.from({ length: count }, (_, i) => i).filter((i) => i % 3 === g).map(address).sort();

  it('discovery alone connects nothing; a call connects exactly the providers serving its pattern', async () => {
    const { client, channels, opened } = setup();
    // Starts discovery: nobody serves it, known from the metadata, so nothing is connected for it.
    await expect(client.call('nobody.x', 1)).rejects.toBeInstanceOf(NoHandlerError);
    expect(client.knownProviderCount()).toBe(30);
    expect(opened()).toEqual([]);
    expect(channels.size).toBe(0);

    await expect(client.call('g1.a', 'x')).resolves.toBe('x');
    expect(opened()).toEqual(group(1));
    // Another pattern of the same providers opens nothing more; one of another group opens that group.
    await client.call('g1.b', 'y');
    expect(opened()).toEqual(group(1));
    await firstValueFrom(client.send('g2.a', 'z'));
    expect(opened()).toEqual([...group(1), ...group(2)].sort());
    expect(channels.size).toBe(20);
  });

  it('an event connects the providers that declare it', async () => {
    const { client, opened } = setup();
    await firstValueFrom(client.emit('g0.done', {}), { defaultValue: undefined });
    expect(opened()).toEqual(group(0));
  });

  it('a provider that joins later is connected at once when it serves a pattern in use, and not otherwise', async () => {
    const { client, join, providers, opened } = setup();
    await client.call('g1.a', 1);
    join(31, 1);
    join(32, 2);
    expect(providers.opened.has(address(31))).toBe(true);
    expect(providers.opened.has(address(32))).toBe(false);
    expect(opened()).toEqual([...group(1), address(31)].sort());
  });

  it('connect() opens every known provider', async () => {
    const { client, opened } = setup();
    await client.connect();
    expect(opened()).toHaveLength(30);
  });

  it('providers that do not declare their patterns serve anything: a call connects them all, their Hello then narrows it', async () => {
    const { client, opened, router } = setup({}, () => undefined, 6);
    // Their Hellos say g0.a (the default of this fixture's in-memory providers).
    await expect(client.call('g0.a', 1)).resolves.toBe(1);
    expect(opened()).toHaveLength(6);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(router.isUnserved({ pattern: 'g5.a', kind: 'patterns' })).toBe(true);
  });

  it('fails fast once every provider serving the call failed, naming only those, and leaves the others alone', async () => {
    const { client, providers, opened } = setup();
    for (const a of group(2)) providers.down.add(a);
    const failed = await client.call('g2.a', 1).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(NoProviderError);
    expect((failed as NoProviderError).failures.map((f) => f.address).sort()).toEqual(group(2));
    expect(opened()).toEqual(group(2));
    // The providers of another pattern are still untried: its call connects and succeeds.
    await expect(client.call('g0.a', 2)).resolves.toBe(2);
  });

  it('waitForReady: waits for the pattern’s providers, and one that comes back answers', async () => {
    const { client, providers } = setup({ waitForReady: true });
    for (const a of group(2)) providers.down.add(a);
    const call = client.call('g2.b', 'late');
    await new Promise((resolve) => setTimeout(resolve, 150));
    providers.down.delete(group(2)[0]);
    await expect(call).resolves.toBe('late');
  });

  it('picks from one cached, frozen list until something changes', async () => {
    const lists: (readonly Candidate[])[] = [];
    const spy: Balancer = {
      name: 'spy',
      pick: (cs) => {
        lists.push(cs);
        return cs[0];
      },
    };
    const { client, join, router } = setup({ balancer: { strategy: spy, warmup: false } });
    await client.call('g1.a', 0);
    await new Promise((resolve) => setTimeout(resolve, 20)); // every g1 provider ready
    const route = { pattern: 'g1.a', kind: 'patterns' as const };
    lists.length = 0;
    for (let i = 0; i < 5; i++) router.pickNow(undefined, route);
    expect(new Set(lists).size).toBe(1);
    expect(Object.isFrozen(lists[0])).toBe(true);
    expect(lists[0]).toHaveLength(10);
    join(40, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    router.pickNow(undefined, route);
    expect(lists.at(-1)).not.toBe(lists[0]);
    expect(lists.at(-1)).toHaveLength(11);
  });

  it('remembers at most MAX_ROUTES routes of a kind (patterns that carry ids do not grow it)', async () => {
    const { client, router } = setup();
    await client.call('g0.a', 0);
    for (let i = 0; i < MAX_ROUTES + 50; i++) router.isUnserved({ pattern: `{"cmd":"get","id":${i}}`, kind: 'patterns' });
    expect(router.routeCount).toBeLessThanOrEqual(MAX_ROUTES);
  });
});
