/**
 * One fuzz run: a server child under attack by `connections` hostile sockets while well-formed
 * clients keep calling it; then the verdict. Shared by the CI spec (test/hardening/fuzz.spec.ts)
 * and `npm run fuzz` (scripts/fuzz.ts), which print the same report.
 */
import { DEFAULT_SERVER_OPTIONS } from '../lib/server/server-options.js';
import { runAttack, type AttackResult } from './fuzz-attacker.js';
import { WellFormedLoad, type WellFormedResult } from './fuzz-clients.js';
import { CATEGORIES } from './fuzz-plan.js';
import { startFuzzServer, type FuzzServerStats } from './fuzz-server-process.js';

export interface FuzzOptions {
  frames: number;
  connections: number;
  seed: number;
  /** Well-formed clients (alternating JSON / MessagePack) and the calls each keeps in flight. */
  clients: number;
  concurrency: number;
  /** Peak RSS during the attack may exceed the baseline by this much (MiB). */
  rssBoundMb: number;
  /** Server options (JSON-able MsRpcServerOptions). */
  server: Record<string, number | string | boolean>;
  progress?: (line: string) => void;
  /** The attack is abandoned (a violation) after this long, so a hung server fails the run instead of hanging it. */
  maxAttackMs?: number;
}

export const DEFAULT_FUZZ_OPTIONS: Readonly<Omit<FuzzOptions, 'seed' | 'progress'>> = Object.freeze({
  frames: 100_000,
  connections: 64,
  clients: 2,
  concurrency: 4,
  rssBoundMb: 150,
  // Short timeouts so stalled sessions end in seconds; the protocol limits keep their defaults.
  server: Object.freeze({ idleTimeout: 3000, clientHeartbeatInterval: 1000, frameTimeout: 1000 }),
});

/** What the server may name when it closes a bad connection or rejects a bad frame. */
export const TYPED_ERRORS = ['FrameDecodeError', 'FrameTooLargeError', 'FrameTimeoutError', 'ProtocolError', 'ConnectionClosedError', 'AuthError', 'EncodeError'];

const DEFAULT_LIMITS = { maxFrameSize: 8 * 1024 * 1024, maxBodySize: 8 * 1024 * 1024, maxPatternLength: 1024 };
const SETTLE_MS = 5000;
const WARMUP_MS = 300;

export interface FuzzReport {
  seed: number;
  options: Omit<FuzzOptions, 'progress'>;
  attack: AttackResult;
  clients: WellFormedResult;
  baseline: FuzzServerStats;
  /** After the attack, once its connections are gone (clients still connected). */
  after: FuzzServerStats;
  serverExit: { code: number | null; signal: string | null } | undefined;
  serverStderr: string;
  /** Connections the server closed itself / the attacker closed / fatal or stalled ones left open. */
  closedByServer: number;
  closedByAttacker: number;
  leftOpen: number;
  /** Most warning/error lines logged for one connection. */
  maxLinesPerConnection: number;
  /** Fatal sessions: server close latency after the last byte (ms). */
  fatalCloseP99Ms: number;
  stallCloseMaxMs: number;
  durationMs: number;
  /** Every broken promise, in words: empty when the server held. */
  violations: string[];
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const say = options.progress ?? (() => undefined);
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limits) as (keyof typeof limits)[]) {
    if (typeof options.server[key] === 'number') limits[key] = options.server[key] as number;
  }
  const server = await startFuzzServer(options.server);
  say(`server pid ${server.pid} on 127.0.0.1:${server.port}`);
  const load = new WellFormedLoad({
    host: '127.0.0.1',
    port: server.port,
    clients: options.clients,
    concurrency: options.concurrency,
    seed: options.seed ^ 0x5eed,
    timeout: 10_000,
    pauseMs: 1,
  });
  try {
    await load.start();
    await sleep(WARMUP_MS);
    const baseline = await server.stats(true);
    load.resetLatencies();
    say(`attacking: ${options.frames} frames over ${options.connections} connections, seed ${options.seed}`);
    const frameTimeout = Number(options.server.frameTimeout ?? DEFAULT_SERVER_OPTIONS.frameTimeout);
    const idleTimeout = Number(options.server.idleTimeout ?? DEFAULT_SERVER_OPTIONS.idleTimeout);
    const attack = await runAttack({
      host: '127.0.0.1',
      port: server.port,
      frames: options.frames,
      connections: options.connections,
      seed: options.seed,
      limits,
      fatalCloseWithinMs: 5000,
      stallCloseWithinMs: frameTimeout + idleTimeout + 5000,
      progress: options.progress,
      maxDurationMs: options.maxAttackMs,
    });
    say(`attack done in ${Math.round(attack.durationMs)} ms`);
    let after = await server.stats();
    for (const deadline = performance.now() + SETTLE_MS; after.connections > options.clients && performance.now() < deadline; ) {
      await sleep(50);
      after = await server.stats();
    }
    const clients = await load.stop();
    const report = judge(options, attack, clients, baseline, after, server.exit, server.stderrTail(), started);
    return report;
  } finally {
    await load.stop().catch(() => undefined);
    await server.stop();
  }
}

function judge(
  options: FuzzOptions,
  attack: AttackResult,
  clients: WellFormedResult,
  baseline: FuzzServerStats,
  after: FuzzServerStats,
  serverExit: FuzzReport['serverExit'],
  serverStderr: string,
  started: number,
): FuzzReport {
  const violations: string[] = [];
  if (serverExit) violations.push(`the server exited during the run (code ${serverExit.code}, signal ${serverExit.signal})`);
  if (clients.failures > 0) violations.push(`${clients.failures} well-formed calls failed: ${clients.failureSamples.join('; ')}`);
  if (attack.connectErrors > 0) violations.push(`${attack.connectErrors} attacker connects failed`);
  if (attack.abandoned) violations.push(`the attack did not finish within ${options.maxAttackMs} ms and was abandoned`);

  const byAddress = new Map<string, { connections: number; faulted: number }>();
  for (const c of attack.connections) {
    const key = `127.0.0.1:${c.localPort}`;
    const entry = byAddress.get(key) ?? { connections: 0, faulted: 0 };
    entry.connections++;
    if ((c.fatal || c.stalled) && !c.uncertain && c.closedBy === 'server') entry.faulted++;
    byAddress.set(key, entry);
  }
  let maxLines = 0;
  for (const [address, lines] of Object.entries(after.logByAddress)) {
    const entry = byAddress.get(address);
    if (!entry) {
      violations.push(`${lines} warning(s) for ${address}, which is not an attacker connection (a well-formed client?)`);
      continue;
    }
    maxLines = Math.max(maxLines, Math.ceil(lines / entry.connections));
    if (lines > entry.connections) violations.push(`${address}: ${lines} warning lines for ${entry.connections} connection(s)`);
  }
  let silent = 0;
  for (const [address, entry] of byAddress) {
    if ((after.logByAddress[address] ?? 0) < entry.faulted) silent++;
  }
  if (silent > 0) violations.push(`${silent} connection(s) the server cut for a fault were closed without a warning naming why`);
  const untyped = Object.keys(after.errorNames).filter((name) => !TYPED_ERRORS.includes(name));
  if (untyped.length > 0) violations.push(`untyped errors in the server log: ${untyped.join(', ')}`);
  if (after.unattributed.length > 0) violations.push(`log lines not tied to a connection: ${after.unattributed.slice(0, 5).join(' | ')}`);
  if ((after.logByLevel.error ?? 0) > 0) violations.push(`${after.logByLevel.error} error-level log lines`);

  const leftOpen = attack.connections.filter((c) => c.closedBy === 'timeout');
  if (leftOpen.length > 0) {
    violations.push(`${leftOpen.length} connection(s) not closed by the server in time after a fatal or stalled frame`);
  }
  const rssGrowthMb = Math.max(0, after.peakRss - baseline.rss) / 2 ** 20;
  if (rssGrowthMb > options.rssBoundMb) {
    violations.push(`peak RSS grew by ${rssGrowthMb.toFixed(0)} MiB over the baseline (bound ${options.rssBoundMb} MiB)`);
  }
  if (after.connections !== options.clients) {
    violations.push(`${after.connections} connections open after the attack (expected the ${options.clients} well-formed clients only)`);
  }
  const fatalCloses = attack.connections.filter((c) => c.fatal && !c.uncertain && c.closeMs !== undefined).map((c) => c.closeMs!);
  const stallCloses = attack.connections.filter((c) => c.stalled && !c.uncertain && c.closeMs !== undefined).map((c) => c.closeMs!);
  const { progress: _progress, ...rest } = options;
  return {
    seed: options.seed,
    options: rest,
    attack,
    clients,
    baseline,
    after,
    serverExit,
    serverStderr,
    closedByServer: attack.connections.filter((c) => c.closedBy === 'server').length,
    closedByAttacker: attack.connections.filter((c) => c.closedBy === 'attacker').length,
    leftOpen: leftOpen.length,
    maxLinesPerConnection: maxLines,
    fatalCloseP99Ms: quantile(fatalCloses, 0.99),
    stallCloseMaxMs: stallCloses.length ? Math.max(...stallCloses) : 0,
    durationMs: performance.now() - started,
    violations,
  };
}

export function formatReport(r: FuzzReport): string {
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const lines = [
    `fuzz report (seed ${r.seed}; replay with --seed ${r.seed} --frames ${r.options.frames} --connections ${r.options.connections})`,
    `  frames sent            ${r.attack.framesSent} in ${Math.round(r.attack.durationMs)} ms (${mb(r.attack.bytesSent)} out, ${mb(r.attack.bytesReceived)} back)`,
  ];
  for (const c of CATEGORIES) {
    if (r.attack.stepsByCategory[c] > 0) {
      lines.push(`    ${c.padEnd(22)} ${String(r.attack.framesByCategory[c]).padStart(7)} frames in ${r.attack.stepsByCategory[c]} steps`);
    }
  }
  const fatal = r.attack.connections.filter((c) => c.fatal && !c.uncertain).length;
  const stalled = r.attack.connections.filter((c) => c.stalled && !c.uncertain).length;
  const shifted = r.attack.connections.filter((c) => (c.fatal || c.stalled) && c.uncertain).length;
  lines.push(
    `  connections            ${r.attack.connections.length} opened; closed by the server ${r.closedByServer}, by the attacker ${r.closedByAttacker}, left open ${r.leftOpen}`,
    `                         ${fatal} ended with a fatal frame (server close p99 ${ms(r.fatalCloseP99Ms)}), ${stalled} stalled mid-frame (cut after at most ${ms(r.stallCloseMaxMs)}),`,
    `                         ${shifted} ended with a fatal or stalled frame after a step that may have shifted the stream`,
    `  typed errors logged    ${Object.entries(r.after.errorNames).sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n} ${c}`).join(', ') || 'none'}`,
    `  log lines              ${Object.entries(r.after.logByLevel).map(([l, c]) => `${l} ${c}`).join(', ')}; max warnings per connection ${r.maxLinesPerConnection}`,
    `  well-formed calls      ${r.clients.calls} made, ${r.clients.failures} failed; p50 ${ms(r.clients.p50Ms)}, p99 ${ms(r.clients.p99Ms)}, max ${ms(r.clients.maxMs)}`,
    `  server RSS             baseline ${mb(r.baseline.rss)}, peak ${mb(r.after.peakRss)} (+${mb(Math.max(0, r.after.peakRss - r.baseline.rss))}, bound +${r.options.rssBoundMb} MiB), after ${mb(r.after.rss)}`,
    `  server connections     ${r.after.connections} after the attack (well-formed clients: ${r.options.clients}); events handled ${r.after.eventsHandled}`,
    `  duration               ${(r.durationMs / 1000).toFixed(1)} s`,
    r.violations.length === 0 ? '  verdict                PASS' : `  verdict                FAIL\n${r.violations.map((v) => `    - ${v}`).join('\n')}`,
  );
  if (r.serverExit && r.serverStderr) lines.push(`  server stderr (tail):\n${r.serverStderr}`);
  return lines.join('\n');
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
