/**
 * `node dist/bench/scale/pick-profile.js [--strategy random] [--warmup] [--providers 1000] [--out pick.cpuprofile]`
 *
 * CPU per router pick, and a CPU profile of the picks alone (for bench/profile-summary.js): one
 * client of a service whose providers (in-memory, see memory-sockets.ts) are all ready and all serve
 * the pattern. The CPU per pick is measured without the profiler, over the same number of picks.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import type { PickContext } from '../../lib/balancer/balancer.js';
import { ChannelCache } from '../../lib/channel/channel-cache.js';
import { resolveChannelOptions } from '../../lib/channel/channel-options.js';
import { ReconnectWatchdog } from '../../lib/channel/reconnect-watchdog.js';
import type { ProviderRouter, RouteFilter } from '../../lib/client/provider-router.js';
import { MsRpcClient, type MsRpcLogger } from '../../lib/index.js';
import { MemoryProviders } from './memory-sockets.js';
import { PushRegistry } from './push-registry.js';
import { serviceInfoJson, serviceSpecs, shardEvents, shardPatterns } from './scale-instances.js';

const { values } = parseArgs({
  options: {
    strategy: { type: 'string', default: 'random' },
    warmup: { type: 'boolean', default: false },
    providers: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'pick.cpuprofile' },
  },
});
const count = Number(values.providers);
const quiet: MsRpcLogger = { log: () => undefined, debug: () => undefined, warn: () => undefined, error: (m) => console.error(m) };
const providers = new MemoryProviders(() => ({ patterns: shardPatterns(0), events: shardEvents(0) }));
const channels = new ChannelCache(resolveChannelOptions({}), quiet, undefined, providers.factory);
const watchdog = new ReconnectWatchdog(channels, {}, quiet);
const registry = new PushRegistry();
registry.push(serviceInfoJson('orders', serviceSpecs(count, { warmingShare: 0.1 })));
const client = new MsRpcClient(
  { service: 'orders', registry, snapshotDir: false, logger: quiet, balancer: { strategy: values.strategy, warmup: values.warmup } },
  { channels },
);
const router = (client as unknown as { router: ProviderRouter }).router;
const route: RouteFilter = { pattern: shardPatterns(0)[0], kind: 'patterns' };
const keys: PickContext[] = Array.from({ length: 1024 }, (_, i) => ({ hashKey: `customer-${i}` }));
const keyed = values.strategy === 'consistent-hash';

await client.connect();
while (client.readyProviderCount() < count) await new Promise((resolve) => setTimeout(resolve, 10));

function picks(n: number): number {
  let found = 0;
  for (let i = 0; i < n; i++) if (router.pickNow(keyed ? keys[i & 1023] : undefined, route)) found++;
  return found;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// About 1.5 s of picks per measurement.
let n = 100;
for (;;) {
  const t0 = performance.now();
  picks(n);
  const ms = performance.now() - t0;
  if (ms > 200) {
    n = Math.round((n * 1500) / ms);
    break;
  }
  n *= 4;
}
picks(n);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
picks(n);
const { profile } = await session.post('Profiler.stop');
writeFileSync(values.out, JSON.stringify(profile));
session.disconnect();
const c0 = cpuUs();
picks(n);
const nsPerPick = ((cpuUs() - c0) * 1000) / n;
console.log(`${values.strategy}${values.warmup ? ' + warm-up' : ''}, ${count} ready providers: ${nsPerPick.toFixed(0)} ns of CPU per pick (${n} picks); profile: ${values.out}`);
await client.close();
watchdog.close();
channels.close();
providers.destroyAll();
