/**
 * The large-service rows (issue 19), in a child process of their own (forked with --expose-gc by
 * ../scale-cell.ts) so the heap row starts from a clean heap. In-process, no sockets: providers are
 * in-memory peers (memory-sockets.ts) fed to real MsRpcClients by a registry that delivers what a
 * Nacos push delivers (push-registry.ts, scale-instances.ts).
 *
 * - push: a full push in which 10 % of 1,000 providers changed, applied by a client that called
 *   (so its routes are in use): the registry listener (directory, router, channel cache) plus the
 *   first pick after it (what the balancers rebuild). Median of 5 pushes, per balancer.
 * - pick: the router's pick for a call (what `pickNow` costs a call), 1,000 ready providers all
 *   serving the pattern, per balancer.
 * - heap: per provider a client knows and has no connection to.
 * - lazy: a client of a 1,000-provider service that calls 3 patterns served by 10 of them.
 *
 * The router is read from the client's private field: the pick is measured where a call makes it.
 */
import { exitWithParent } from '../child-lifetime.js';
import { ChannelCache } from '../../lib/channel/channel-cache.js';
import { resolveChannelOptions } from '../../lib/channel/channel-options.js';
import { ReconnectWatchdog } from '../../lib/channel/reconnect-watchdog.js';
import type { BalancerOptions } from '../../lib/balancer/balancer-options.js';
import type { PickContext } from '../../lib/balancer/balancer.js';
import type { ProviderRouter, RouteFilter } from '../../lib/client/provider-router.js';
import { MsRpcClient, type MsRpcLogger } from '../../lib/index.js';
import type { ScaleMeasurement, ScaleWorkloadSpec } from './scale-types.js';
import { MemoryProviders } from './memory-sockets.js';
import { PushRegistry } from './push-registry.js';
import { nextPush, serviceInfoJson, serviceSpecs, shardEvents, shardPatterns, type ProviderSpec } from './scale-instances.js';

export type ScaleRequest = { type: 'run'; spec: ScaleWorkloadSpec };
export type ScaleMessage = { type: 'ready' } | { type: 'result'; result: ScaleMeasurement } | { type: 'error'; message: string };

const SERVICE = 'orders';
const quiet: MsRpcLogger = {
  log: () => undefined,
  debug: () => undefined,
  warn: () => undefined,
  error: (m) => console.error(`[scale] ${m}`),
};

/** The balancers of the rows: each strategy alone, and warm-up (around weighted random, its default). */
const BALANCERS: readonly { name: string; options: Partial<BalancerOptions>; keyed?: boolean }[] = [
  { name: 'weighted random', options: { strategy: 'random', warmup: false } },
  { name: 'round-robin', options: { strategy: 'round-robin', warmup: false } },
  { name: 'least-active', options: { strategy: 'least-active', warmup: false } },
  { name: 'consistent hash', options: { strategy: 'consistent-hash', warmup: false }, keyed: true },
  { name: 'warm-up (random)', options: { strategy: 'random', warmup: true } },
];

const exit = exitWithParent('the scale bench', () => undefined);

process.on('message', (msg: ScaleRequest) => {
  if (msg?.type !== 'run') return;
  run(msg.spec).then(
    (result) => process.send?.({ type: 'result', result } satisfies ScaleMessage, () => exit(0)),
    (err: unknown) => {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.send?.({ type: 'error', message } satisfies ScaleMessage, () => exit(1));
    },
  );
});
process.send?.({ type: 'ready' } satisfies ScaleMessage);

async function run(spec: ScaleWorkloadSpec): Promise<ScaleMeasurement> {
  // The heap row first, on the cleanest heap.
  const heap = await step('heap', () => measureHeap(spec));
  const lazy = await step('lazy connections', () => measureLazy(spec));
  const { push, pick } = await step('pushes and picks', () => measurePushAndPick(spec));
  return { providers: spec.providers, changedShare: spec.changedShare, push, pick, heap, lazy };
}

/** Progress on stderr: these rows take seconds each, or much longer when something scales badly. */
async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await run();
  console.error(`[scale] ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

function gc(): void {
  const force = (globalThis as { gc?: () => void }).gc;
  if (!force) throw new Error('the scale bench needs --expose-gc');
  let previous = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    force();
    const used = process.memoryUsage().heapUsed;
    if (used >= previous - 1024) break;
    previous = used;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Consumer {
  readonly client: MsRpcClient;
  readonly router: ProviderRouter;
}

/** A client of the service, as an application makes one, on a shared channel cache (MsRpcModule's). */
function consumer(registry: PushRegistry, channels: ChannelCache, balancer: Partial<BalancerOptions> = {}): Consumer {
  const client = new MsRpcClient(
    { service: SERVICE, registry, snapshotDir: false, logger: quiet, timeout: 10_000, balancer },
    { channels },
  );
  return { client, router: (client as unknown as { router: ProviderRouter }).router };
}

function channelsFor(providers: MemoryProviders): { channels: ChannelCache; close(): void } {
  const channels = new ChannelCache(resolveChannelOptions({ connectionsPerProvider: 1 }), quiet, undefined, providers.factory);
  const watchdog = new ReconnectWatchdog(channels, {}, quiet);
  return {
    channels,
    close: () => {
      watchdog.close();
      channels.close('bench done');
      providers.destroyAll();
    },
  };
}

function servedBy(specs: () => readonly ProviderSpec[]) {
  return (address: string) => {
    const spec = specs().find((s) => `${s.ip}:${s.port}` === address);
    const shard = spec?.shard ?? 0;
    return { patterns: shardPatterns(shard), events: shardEvents(shard) };
  };
}

/** Heap per provider a client knows and has no connection to (only the client holds them). */
async function measureHeap(spec: ScaleWorkloadSpec): Promise<ScaleMeasurement['heap']> {
  const specs = serviceSpecs(spec.providers, { shards: spec.shards });
  const providers = new MemoryProviders(servedBy(() => specs));
  const { channels, close } = channelsFor(providers);
  const registry = new PushRegistry();
  const { client } = consumer(registry, channels);
  try {
    // Discovery started (connect() on an empty service fails at once): the registry answers an empty list.
    await client.connect().catch(() => undefined);
    await sleep(50);
    gc();
    const before = process.memoryUsage().heapUsed;
    registry.push(serviceInfoJson(SERVICE, specs), false);
    if (client.knownProviderCount() !== spec.providers) throw new Error(`the client knows ${client.knownProviderCount()} providers`);
    // Whatever the push set off (connects, in the eager design) settles first.
    await sleep(500);
    gc();
    const after = process.memoryUsage().heapUsed;
    return {
      perProviderBytes: (after - before) / spec.providers,
      connectionsOpened: providers.addressesOpened,
      connectionObjects: channels.size,
    };
  } finally {
    await client.close();
    close();
  }
}

/** A client calling 3 patterns served by `providers / shards` providers. */
async function measureLazy(spec: ScaleWorkloadSpec): Promise<ScaleMeasurement['lazy']> {
  const specs = serviceSpecs(spec.providers, { shards: spec.shards });
  const providers = new MemoryProviders(servedBy(() => specs));
  const { channels, close } = channelsFor(providers);
  const registry = new PushRegistry();
  registry.push(serviceInfoJson(SERVICE, specs));
  const { client } = consumer(registry, channels);
  const called = shardPatterns(0).slice(0, 3);
  const serving = specs.filter((s) => s.shard === 0).length;
  let calls = 0;
  try {
    // A burst first (the calls a request handler fans out), then a steady trickle.
    await Promise.all(called.map((pattern) => client.call(pattern, { n: 0 })));
    calls += called.length;
    for (let round = 0; round < 50; round++) {
      await Promise.all(called.map((pattern) => client.call(pattern, { n: round })));
      calls += called.length;
    }
    await sleep(100);
    return {
      known: client.knownProviderCount(),
      serving,
      patternsCalled: called.length,
      calls,
      addressesOpened: providers.addressesOpened,
      connectionObjects: channels.size,
    };
  } finally {
    await client.close();
    close();
  }
}

async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const until = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function measurePushAndPick(spec: ScaleWorkloadSpec): Promise<Pick<ScaleMeasurement, 'push' | 'pick'>> {
  let specs = serviceSpecs(spec.providers, { warmingShare: 0.1 });
  const providers = new MemoryProviders(servedBy(() => specs));
  const { channels, close } = channelsFor(providers);
  const registry = new PushRegistry();
  registry.push(serviceInfoJson(SERVICE, specs));
  const consumers = BALANCERS.map((b) => consumer(registry, channels, b.options));
  const pattern = shardPatterns(0)[0];
  const route: RouteFilter = { pattern, kind: 'patterns' };
  const keys: PickContext[] = Array.from({ length: 1024 }, (_, i) => ({ hashKey: `customer-${i}`, pattern }));
  try {
    // Every consumer calls, so its routes are in use and every provider is connected and ready.
    await Promise.all(consumers.map(({ client }) => client.call(pattern, 'warm')));
    await waitFor(() => consumers.every(({ client }) => client.readyProviderCount() === spec.providers), 30_000, 'every provider ready');

    const pick: { balancer: string; ns: number }[] = [];
    for (let b = 0; b < BALANCERS.length; b++) {
      pick.push({ balancer: BALANCERS[b].name, ns: pickNs(consumers[b].router, route, BALANCERS[b].keyed ? keys : undefined) });
    }

    const samples = BALANCERS.map(() => ({ apply: [] as number[], listener: [] as number[], pick: [] as number[] }));
    for (let round = 1; round <= spec.pushes; round++) {
      specs = nextPush(specs, spec.changedShare, round);
      const applied = registry.push(serviceInfoJson(SERVICE, specs));
      for (let b = 0; b < BALANCERS.length; b++) {
        const context = BALANCERS[b].keyed ? keys[round] : undefined;
        const t0 = performance.now();
        const picked = consumers[b].router.pickNow(context, route);
        const pickMs = performance.now() - t0;
        samples[b].apply.push(applied[b] + pickMs);
        samples[b].listener.push(applied[b]);
        samples[b].pick.push(pickMs);
        if (!picked) throw new Error(`${BALANCERS[b].name}: no provider picked after push ${round}`);
      }
      // The providers that joined connect; the next push starts from a settled client.
      await waitFor(
        () => consumers.every(({ client }) => client.readyProviderCount() === spec.providers),
        30_000,
        `the providers of push ${round} ready`,
      );
    }
    const push = BALANCERS.map((b, i) => ({
      balancer: b.name,
      applyMs: samples[i].apply,
      listenerMs: samples[i].listener,
      pickMs: samples[i].pick,
      medianMs: median(samples[i].apply),
    }));
    return { push, pick };
  } finally {
    await Promise.all(consumers.map(({ client }) => client.close()));
    close();
  }
}

/** ns per `pickNow`: median of 7 batches of about 100 ms each (2 more before them warm the JIT up). */
function pickNs(router: ProviderRouter, route: RouteFilter, keys: readonly PickContext[] | undefined): number {
  const results: number[] = [];
  let batch = 1000;
  let sink = 0;
  for (let round = 0; round < 9; round++) {
    const t0 = performance.now();
    if (keys) {
      for (let i = 0; i < batch; i++) if (router.pickNow(keys[i & 1023], route)) sink++;
    } else {
      for (let i = 0; i < batch; i++) if (router.pickNow(undefined, route)) sink++;
    }
    const ms = performance.now() - t0;
    if (round >= 2) results.push((ms * 1e6) / batch);
    batch = Math.max(100, Math.round((batch * 100) / Math.max(ms, 0.01)));
  }
  if (sink === 0) throw new Error('no pick returned a provider');
  return median(results);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
