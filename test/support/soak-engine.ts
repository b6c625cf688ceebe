import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ChannelCache } from '../../lib/channel/channel-cache.js';
import { RpcMetrics } from '../../lib/metrics/rpc-metrics.js';
import { NacosRegistry } from '../../lib/registry/nacos-registry.js';
import { TrackingClock } from './loopback-utils.js';
import { NacosTestServer } from '../../lib/testing/index.js';
import { ChaosMonkey, FAULT_KINDS, type FaultKind } from './soak-chaos.js';
import { SoakClient } from './soak-client.js';
import { CallLedger } from './soak-ledger.js';
import { idempotentSlowMaxMs, SOAK_PATTERNS, SOAK_RETRIES, SoakLoad } from './soak-load.js';
import { lookupTimeoutMs, resolveSoakOptions, SOAK_NACOS_TIMINGS, SOAK_PROVIDER_BEAT_MS, type SoakOptions } from './soak-options.js';
import { SoakProviderProcess } from './soak-provider-process.js';
import { SoakRandom } from './soak-random.js';
import type { ConnectionEvent, SoakReport } from './soak-report.js';
import { activeResources, ExecutionLog, LogTally, resourceGrowth, settleChannels, sleep } from './soak-support.js';

const SERVICE = 'soak';
const PROVIDERS = 3;
/** Provider drain on SIGTERM: longer than any soak call, so a graceful stop fails nothing. */
const PROVIDER_SHUTDOWN_MS = 3500;
/** Bound on the wait for the channel cache to match the live providers at the end. */
const SETTLE_LIMIT_MS = SOAK_NACOS_TIMINGS.heartbeatTimeoutMs + SOAK_NACOS_TIMINGS.cacheMillis + 4000;

/**
 * The chaos soak: a Nacos test server, 3 provider processes (real Nest + MsRpcServer, registered
 * in Nacos), 1 in-process consumer (MsRpcClient discovering through NacosRegistry) under
 * continuous load, faults injected at seeded random times (SIGKILL, SIGSTOP/SIGCONT, graceful
 * restarts on the same or a new port, one Nacos outage). Every call is accounted for; the report
 * says what happened and {@link soakViolations} what went wrong. Cleans up everything it started,
 * also when it throws.
 */
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o = resolveSoakOptions(partial);
  const log = o.log ?? (() => undefined);
  const baseline = activeResources();
  const random = new SoakRandom(o.seed);
  const snapshotDir = await mkdtemp(join(tmpdir(), 'ms-rpc-soak-'));
  const nacos = new NacosTestServer(SOAK_NACOS_TIMINGS);
  const executions = new ExecutionLog(PROVIDERS);
  const serverLogs = new LogTally();
  const clientLogs = new LogTally();
  const registryLogs = new LogTally();
  const providers: SoakProviderProcess[] = [];
  const clock = new TrackingClock();
  const metrics = new RpcMetrics();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let registry: NacosRegistry | undefined;
  let client: SoakClient | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let load: SoakLoad | undefined;
  let chaos: ChaosMonkey | undefined;
  let runStartedAt: number | undefined;
  try {
    await nacos.start();
    const launch = { nacosAddress: nacos.address, service: SERVICE, beatMs: SOAK_PROVIDER_BEAT_MS, shutdownTimeoutMs: PROVIDER_SHUTDOWN_MS };
    const sink = {
      onExecuted: (slot: number, ids: readonly string[]) => executions.add(slot, ids),
      onLog: (slot: number, level: string, message: string) => serverLogs.add(level, `provider ${slot}: ${message}`),
    };
    for (let slot = 0; slot < PROVIDERS; slot++) providers.push(new SoakProviderProcess(slot, launch, sink));
    await Promise.all(providers.map((p) => p.start(0)));
    log(`providers on ports ${providers.map((p) => p.port).join(', ')}; Nacos on ${nacos.address}`);

    registry = new NacosRegistry({ serverList: [nacos.address], protocol: 'http', logger: registryLogs.logger() });
    client = new SoakClient(
      {
        service: SERVICE,
        registry,
        snapshotDir,
        logger: clientLogs.logger(),
        timeout: o.callTimeoutMs,
        heartbeatInterval: o.heartbeatIntervalMs,
        heartbeatTimeout: o.heartbeatTimeoutMs,
        // Connections the load leaves idle for a while (a provider the balancer skips) keep being
        // probed by idle pings within the soak's time scale, not only when the next call arrives.
        idleHeartbeatInterval: 3 * o.heartbeatIntervalMs,
        retries: SOAK_RETRIES,
        idempotentPatterns: [SOAK_PATTERNS.read],
      },
      { clock, metrics },
    );
    const channels = client.unwrap<ChannelCache>();
    // The consumer's view of every connection, to explain failures after the fact.
    const connectionEvents: ConnectionEvent[] = [];
    client.on('connection-state', (e) =>
      connectionEvents.push({
        atS: +((performance.now() - (runStartedAt ?? performance.now())) / 1000).toFixed(3),
        address: e.address,
        from: e.from,
        to: e.to,
        reason: e.reason?.message,
      }),
    );
    const consumerReady = (p: SoakProviderProcess) => p.address !== undefined && channels.pickAvailable(p.address) !== undefined;
    // connect() fails fast while Nacos lists no provider yet (their registrations may still be on
    // their way): try again until one is known.
    const connectBy = performance.now() + 15_000;
    for (;;) {
      try {
        await client.connect();
        break;
      } catch (err) {
        if (performance.now() > connectBy) throw err;
        await sleep(100);
      }
    }
    await settleChannels(channels, providers, 15_000);

    runStartedAt = performance.now();
    const ledger = new CallLedger(o.marginMs, runStartedAt);
    sweeper = setInterval(() => ledger.sweep(), 100);
    loopDelay.enable();
    load = new SoakLoad(
      client,
      ledger,
      {
        concurrency: o.concurrency,
        idempotentShare: o.idempotentShare,
        callTimeoutMs: o.callTimeoutMs,
        lookupTimeoutMs: lookupTimeoutMs(o),
        idempotentSlowMaxMs: idempotentSlowMaxMs(lookupTimeoutMs(o), o.heartbeatTimeoutMs),
      },
      random.fork(),
    );
    const chaosWindowMs = o.durationMs - o.calmMs;
    chaos = new ChaosMonkey(
      providers,
      nacos,
      consumerReady,
      random.fork(),
      {
        gapMinMs: o.faultGapMinMs,
        gapMaxMs: o.faultGapMaxMs,
        nacosOutageMinMs: o.nacosOutageMinMs,
        nacosOutageMaxMs: o.nacosOutageMaxMs,
        nacosOutageAtMs: Math.round(chaosWindowMs * (0.25 + 0.3 * random.next())),
      },
      runStartedAt,
      (line) => log(`[${((performance.now() - runStartedAt!) / 1000).toFixed(1)}s] ${line}`),
    );
    load.start();
    chaos.start();
    await sleep(chaosWindowMs);
    log('chaos over; calm tail');
    await chaos.stop();
    await sleep(o.durationMs - (performance.now() - runStartedAt));
    await load.stop(o.callTimeoutMs + o.marginMs + 2000);
    const durationS = +((performance.now() - runStartedAt) / 1000).toFixed(2);
    clearInterval(sweeper);
    sweeper = undefined;
    loopDelay.disable();
    ledger.sweep();

    // Nothing may be left pending once the last call settled.
    const pendingCalls = metrics.inFlight;
    let pendingOnConnections = 0;
    for (const address of channels.addresses()) for (const c of channels.get(address) ?? []) pendingOnConnections += c.inFlight;
    log('waiting for the channel cache to settle');
    const settled = await settleChannels(channels, providers, SETTLE_LIMIT_MS);
    const totals = metrics.snapshot().totals;

    const audit = { ...client.audit };
    await client.close();
    const clientTimersAfterClose = clock.pendingTimers;
    const channelsAfterClose = channels.size;
    client = undefined;
    await registry.close();
    registry = undefined;
    await Promise.all(providers.map((p) => p.dispose()));
    await nacos.stop();
    await rm(snapshotDir, { recursive: true, force: true });
    const leakedResources = await resourceGrowth(baseline, 3000);

    const k = ledger.tallies;
    for (const sample of ledger.samples) sample.ranOn = executions.ranOn(sample.id);
    const writeFailedBy = k.write.failedBy;
    const executedTwice = executions.executedTwice();
    const faultsByKind = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    for (const f of chaos.faults) faultsByKind[f.kind]++;
    const total = k.read.started + k.lookup.started + k.write.started;
    const nsToMs = (ns: number) => +(ns / 1e6).toFixed(1);
    return {
      seed: o.seed,
      settings: {
        durationMs: o.durationMs,
        concurrency: o.concurrency,
        callTimeoutMs: o.callTimeoutMs,
        marginMs: o.marginMs,
        heartbeat: `${o.heartbeatIntervalMs}/${o.heartbeatTimeoutMs} ms`,
        idempotentHandlerMaxMs: idempotentSlowMaxMs(lookupTimeoutMs(o), o.heartbeatTimeoutMs),
      },
      durationS,
      calls: {
        total,
        idempotent: k.read.started + k.lookup.started,
        nonIdempotent: k.write.started,
        succeeded: k.read.succeeded + k.lookup.succeeded + k.write.succeeded,
        failed: k.read.failed + k.lookup.failed + k.write.failed,
        perSecond: Math.round(total / durationS),
        byKind: k,
        nonIdempotentFailedBy: writeFailedBy,
        samples: ledger.samples,
        slowest: ledger.slowest,
        hungIds: ledger.hungIds,
      },
      latencyMs: { ...ledger.latency(), slowestFailure: Math.round(ledger.slowestFailureMs) },
      duplicates: { ...audit, mismatched: ledger.mismatched, extraValues: ledger.extraValues, ledgerDuplicates: ledger.duplicates },
      server: {
        executionsBySlot: executions.bySlot,
        nonIdempotentExecutedButFailed: ledger.failedWriteIds.filter((id) => executions.count(id) > 0).length,
        nonIdempotentExecutedTwice: executedTwice.write,
        idempotentExecutedTwice: executedTwice.read + executedTwice.lookup,
        warnings: serverLogs.warnings,
        errors: serverLogs.errors,
        lastErrors: serverLogs.last,
      },
      client: {
        retries: totals.retries,
        reconnectAttempts: totals.reconnectAttempts,
        reconnects: totals.reconnectSuccesses,
        evictions: totals.evictions,
        heartbeatsMissed: totals.heartbeatsMissed,
        connectionsOpened: totals.connectionsOpened,
        connectionsClosed: totals.connectionsClosed,
        warnings: clientLogs.warnings,
        errors: clientLogs.errors,
        eventLoopDelayMs: { p99: nsToMs(loopDelay.percentile(99)), max: nsToMs(loopDelay.max) },
      },
      faults: {
        total: chaos.faults.length,
        byKind: faultsByKind,
        skipped: chaos.skipped,
        records: chaos.faults,
        providerStarts: providers.reduce((n, p) => n + p.starts, 0),
      },
      nacosOutages: chaos.nacosOutages,
      connectionEvents,
      end: {
        pendingCalls,
        pendingOnConnections,
        channelsSettledMs: settled.ms,
        staleChannels: settled.stale,
        unreadyProviders: settled.unready,
        clientTimersAfterClose,
        channelsAfterClose,
        childrenLeft: providers.filter((p) => p.running).length,
        leakedResources,
      },
    };
  } finally {
    if (sweeper) clearInterval(sweeper);
    loopDelay.disable();
    await chaos?.stop().catch(() => undefined);
    await load?.stop(0).catch(() => undefined);
    await client?.close().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    await Promise.all(providers.map((p) => p.dispose().catch(() => undefined)));
    await nacos.stop().catch(() => undefined);
    await rm(snapshotDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
