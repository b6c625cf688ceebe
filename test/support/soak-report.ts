import type { FaultKind, FaultRecord, NacosOutageRecord } from './soak-chaos.js';
import type { FailureSample, KindTally, SoakCallKind } from './soak-ledger.js';
import type { PacketAudit } from './soak-client.js';

export interface ConnectionEvent {
  /** Seconds since the loaded run started (negative: during setup). */
  atS: number;
  address: string;
  from: string;
  to: string;
  reason?: string;
}

/** Everything one soak run measured; printed as text and saved as JSON. */
export interface SoakReport {
  seed: number;
  settings: {
    durationMs: number;
    concurrency: number;
    callTimeoutMs: number;
    marginMs: number;
    heartbeat: string;
    /** Slowest handler an idempotent call asks for (two failovers must fit in its deadline). */
    idempotentHandlerMaxMs: number;
  };
  /** Loaded time actually run, s. */
  durationS: number;
  calls: {
    total: number;
    idempotent: number;
    nonIdempotent: number;
    succeeded: number;
    failed: number;
    perSecond: number;
    byKind: Record<SoakCallKind, KindTally>;
    /** Failures of non-idempotent calls by error class. */
    nonIdempotentFailedBy: Record<string, number>;
    samples: FailureSample[];
    /** The slowest successful calls; `atS` is when each started. */
    slowest: Array<{ id: string; kind: SoakCallKind; ms: number; atS: number }>;
    hungIds: string[];
  };
  latencyMs: { p50: number; p99: number; p999: number; max: number; slowestFailure: number };
  /** Answers seen twice, after the end, or carrying another call's id: all must be 0. */
  duplicates: PacketAudit & { mismatched: number; extraValues: number; ledgerDuplicates: number };
  server: {
    /** Handler executions per provider slot. */
    executionsBySlot: number[];
    /** Non-idempotent calls that failed on the consumer although a provider started their handler. */
    nonIdempotentExecutedButFailed: number;
    /** Non-idempotent calls whose handler ran more than once (must be 0: they are never retried). */
    nonIdempotentExecutedTwice: number;
    /** Idempotent calls whose handler ran more than once (a retry after the first attempt had started). */
    idempotentExecutedTwice: number;
    warnings: number;
    errors: number;
    lastErrors: string[];
  };
  client: {
    retries: number;
    reconnectAttempts: number;
    reconnects: number;
    evictions: number;
    heartbeatsMissed: number;
    connectionsOpened: number;
    connectionsClosed: number;
    warnings: number;
    errors: number;
    eventLoopDelayMs: { p99: number; max: number };
  };
  faults: {
    total: number;
    byKind: Record<FaultKind, number>;
    skipped: number;
    records: FaultRecord[];
    providerStarts: number;
  };
  nacosOutages: NacosOutageRecord[];
  /** Every connection state change the consumer saw (for the JSON; explains failures after the fact). */
  connectionEvents: ConnectionEvent[];
  end: {
    /** Calls still counted in flight by the client's metrics after the load stopped. */
    pendingCalls: number;
    /** Requests still pending on connections after the load stopped. */
    pendingOnConnections: number;
    /** How long the channel cache took to hold exactly the live providers, all ready (ms). */
    channelsSettledMs: number;
    /** Channel cache addresses that were not live providers when checked (must be empty). */
    staleChannels: string[];
    /** Live providers without a ready connection when checked (must be empty). */
    unreadyProviders: string[];
    /** Client timers still armed after close() (must be 0). */
    clientTimersAfterClose: number;
    /** Connections the channel cache still held after close() (must be 0). */
    channelsAfterClose: number;
    /** Provider processes still running after the run (must be 0). */
    childrenLeft: number;
    /** Active handles/requests above the count before the run, by type (must be empty). */
    leakedResources: Record<string, number>;
  };
}

/** What makes a run fail. Empty when the run kept every promise. */
export function soakViolations(r: SoakReport): string[] {
  const v: string[] = [];
  const idem = [r.calls.byKind.read, r.calls.byKind.lookup];
  const all = [...idem, r.calls.byKind.write];
  const idemFailed = idem.reduce((n, t) => n + t.failed, 0);
  if (idemFailed > 0) v.push(`${idemFailed} idempotent call(s) failed`);
  const untyped = all.reduce((n, t) => n + t.untypedFailures, 0);
  if (untyped > 0) v.push(`${untyped} failure(s) were not typed MsRpcErrors`);
  const late = all.reduce((n, t) => n + t.late, 0);
  if (late > 0) v.push(`${late} call(s) settled later than timeout + ${r.settings.marginMs} ms`);
  const hung = all.reduce((n, t) => n + t.hung, 0);
  if (hung > 0) v.push(`${hung} call(s) hung past timeout + margin`);
  const d = r.duplicates;
  const dup = d.extraTerminals + d.afterEnd + d.mismatched + d.extraValues + d.ledgerDuplicates;
  if (dup > 0) v.push(`duplicate or misrouted answers: ${JSON.stringify(d)}`);
  if (r.server.nonIdempotentExecutedTwice > 0) v.push(`${r.server.nonIdempotentExecutedTwice} non-idempotent call(s) ran twice`);
  if (r.end.pendingCalls > 0 || r.end.pendingOnConnections > 0) {
    v.push(`pending calls left: ${r.end.pendingCalls} in the client, ${r.end.pendingOnConnections} on connections`);
  }
  if (r.end.staleChannels.length > 0) v.push(`channels to providers that are gone: ${r.end.staleChannels.join(', ')}`);
  if (r.end.unreadyProviders.length > 0) v.push(`live providers never reconnected: ${r.end.unreadyProviders.join(', ')}`);
  if (r.end.clientTimersAfterClose > 0) v.push(`${r.end.clientTimersAfterClose} client timer(s) armed after close()`);
  if (r.end.channelsAfterClose > 0) v.push(`${r.end.channelsAfterClose} channel(s) left after close()`);
  if (r.end.childrenLeft > 0) v.push(`${r.end.childrenLeft} provider process(es) left running`);
  if (Object.keys(r.end.leakedResources).length > 0) v.push(`leaked resources: ${JSON.stringify(r.end.leakedResources)}`);
  if (r.nacosOutages.length !== 1) v.push(`expected one Nacos outage, got ${r.nacosOutages.length}`);
  return v;
}

const pct = (part: number, whole: number) => (whole === 0 ? '0' : ((100 * part) / whole).toFixed(2));
const entries = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';

/** The human-readable report (the JSON file has everything, including every fault). */
export function formatSoakReport(r: SoakReport): string {
  const c = r.calls;
  const k = c.byKind;
  const idemFailed = k.read.failed + k.lookup.failed;
  const violations = soakViolations(r);
  const lines = [
    `chaos soak: ${r.durationS} s, ${r.settings.concurrency} call loops, seed ${r.seed}, call timeout ${r.settings.callTimeoutMs} ms, heartbeat ${r.settings.heartbeat}, idempotent handlers <= ${r.settings.idempotentHandlerMaxMs} ms`,
    `calls          ${c.total} (${c.perSecond}/s): idempotent ${c.idempotent} (pattern list ${k.read.started}, record ${k.lookup.started}), non-idempotent ${c.nonIdempotent}`,
    `succeeded      ${c.succeeded}; failed ${c.failed} — idempotent ${idemFailed}, non-idempotent ${k.write.failed} (${pct(k.write.failed, c.nonIdempotent)} %)`,
    `failed by type non-idempotent: ${entries(c.nonIdempotentFailedBy)}${idemFailed > 0 ? `; idempotent: ${entries({ ...k.read.failedBy, ...k.lookup.failedBy })}` : ''}`,
    `failure causes ${entries({ ...k.write.failedByReason })}`,
    `latency (ok)   p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, p99.9 ${r.latencyMs.p999} ms, max ${r.latencyMs.max} ms; slowest failure ${Math.round(r.latencyMs.slowestFailure)} ms`,
    `in time        late ${k.read.late + k.lookup.late + k.write.late}, hung ${k.read.hung + k.lookup.hung + k.write.hung}, untyped failures ${k.read.untypedFailures + k.lookup.untypedFailures + k.write.untypedFailures}`,
    `duplicates     ${r.duplicates.extraTerminals + r.duplicates.afterEnd} extra answers, ${r.duplicates.mismatched} misrouted, ${r.duplicates.extraValues} extra values; non-idempotent run twice ${r.server.nonIdempotentExecutedTwice}`,
    `server side    executions per provider [${r.server.executionsBySlot.join(', ')}]; non-idempotent executed but failed on the client ${r.server.nonIdempotentExecutedButFailed}; idempotent run twice ${r.server.idempotentExecutedTwice}`,
    `client         retries ${r.client.retries}, reconnect attempts ${r.client.reconnectAttempts}, reconnects ${r.client.reconnects}, evictions ${r.client.evictions}, heartbeats missed ${r.client.heartbeatsMissed}, connections opened ${r.client.connectionsOpened} / closed ${r.client.connectionsClosed}`,
    `event loop     delay p99 ${r.client.eventLoopDelayMs.p99} ms, max ${r.client.eventLoopDelayMs.max} ms`,
    `faults         ${r.faults.total}: ${entries(r.faults.byKind)}; skipped (rule: >= 1 provider untouched and ready) ${r.faults.skipped}; provider starts ${r.faults.providerStarts}`,
    `Nacos outage   ${r.nacosOutages.map((o) => `${o.durationMs} ms at ${o.atS} s`).join(', ') || 'none'}`,
    `end            pending calls ${r.end.pendingCalls}/${r.end.pendingOnConnections}, channels settled in ${r.end.channelsSettledMs} ms (stale ${r.end.staleChannels.length}, unready ${r.end.unreadyProviders.length}), timers after close ${r.end.clientTimersAfterClose}, channels after close ${r.end.channelsAfterClose}, children left ${r.end.childrenLeft}, leaked resources ${entries(r.end.leakedResources)}`,
    violations.length === 0 ? 'verdict        PASS' : `verdict        FAIL\n  - ${violations.join('\n  - ')}`,
  ];
  const lags = r.faults.records.filter((f) => f.consumerLagMs !== undefined).map((f) => f.consumerLagMs!);
  if (lags.length > 0) {
    lags.sort((a, b) => a - b);
    lines.push(
      `recovery       consumer back on a recovered provider after: median ${lags[Math.floor(lags.length / 2)]} ms, max ${lags.at(-1)} ms`,
    );
  }
  if (r.faults.records.length > 0) {
    const timeline = r.faults.records.map(
      (f) => `${f.atS}s ${f.kind} p${f.slot} ${(f.outageMs / 1000).toFixed(1)}s+${((f.consumerLagMs ?? 0) / 1000).toFixed(1)}s${f.newPort && f.newPort !== f.port ? ` ->:${f.newPort}` : ''}${f.note ? ` (${f.note})` : ''}`,
    );
    lines.push(`timeline       ${timeline.join('; ')}`);
  }
  if (c.slowest.length > 0) {
    lines.push(`slowest ok     ${c.slowest.slice(0, 5).map((s) => `${s.id} ${s.ms} ms (started ${s.atS} s)`).join(', ')}`);
  }
  if (c.samples.length > 0) {
    lines.push('failure samples:');
    for (const s of c.samples.slice(0, 10)) lines.push(`  ${s.atS}s ${s.kind} ${s.id} (handler ${s.delayMs} ms, ran on ${s.ranOn?.join('') || '-'}): ${s.error} after ${s.ms} ms: ${s.message}`);
  }
  return lines.join('\n');
}
