/** Result shape, the printed table, and the saved JSON. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs } from './cli-args.js';
import type { CpuPerRequest } from './cpu-usage.js';
import type { LatencySummary } from './load-loop.js';
import type { ScaleMeasurement } from './scale/scale-types.js';
import type { SystemName } from './systems.js';

/** One echo cell: one system, one workload. */
export interface EchoCellResult {
  readonly workload: string;
  readonly kind: 'echo';
  /** Which round of `--rounds` (0-based). */
  readonly round?: number;
  readonly payloadBytes: number;
  readonly concurrency: number;
  readonly system: SystemName;
  /** Wire format actually used by this system in this cell. */
  readonly codec: string;
  readonly requests: number;
  readonly elapsedMs: number;
  readonly reqPerSec: number;
  readonly latencyUs: LatencySummary;
  /** CPU time per call over the measured phase (client process, server process). */
  readonly cpuUsPerRequest?: CpuPerRequest;
  /** The measured phase on the monotonic clock, µs: cuts `--cpu-prof` profiles (bench/profile-summary.ts). */
  readonly windowUs?: MonotonicWindow;
  readonly error?: string;
}

export interface MonotonicWindow {
  readonly from: number;
  readonly to: number;
}

/** Now on the system-wide monotonic clock, µs (what `--cpu-prof` timestamps use). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** What the idle-connections row measured on the server. */
export interface IdleMeasurement {
  readonly connections: number;
  /** Connections the server itself counted at the end. */
  readonly serverConnections: number;
  readonly readyAtEnd: number;
  readonly dropped: number;
  /** Time to open every connection (TCP connect + Hello), ms. */
  readonly connectMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly heapBaselineBytes: number;
  readonly heapLoadedBytes: number;
  /** (heapUsed with the connections − heapUsed before), both after forced GCs, / connections. */
  readonly heapPerConnectionBytes: number;
  readonly rssPerConnectionBytes: number;
  readonly windowMs: number;
  /** Server CPU (user + system) over the window, % of one core. */
  readonly cpuPercent: number;
  /** Heartbeat traffic over the window, all connections together. */
  readonly pingsPerSec: number;
  readonly pongsPerSec: number;
  /** The CPU window on the monotonic clock, µs (see EchoCellResult.windowUs). */
  readonly windowUs: MonotonicWindow;
}

export interface IdleCellResult {
  readonly workload: string;
  readonly kind: 'idle-connections';
  readonly system: SystemName;
  readonly codec: string;
  readonly idle?: IdleMeasurement;
  readonly error?: string;
}

/** The large-service rows (one cell: bench/scale/). */
export interface ScaleCellResult {
  readonly workload: string;
  readonly kind: 'scale';
  readonly system: 'ms-rpc';
  readonly codec: string;
  readonly scale?: ScaleMeasurement;
  readonly error?: string;
}

export type CellResult = EchoCellResult | IdleCellResult | ScaleCellResult;

/**
 * Each (workload, system)'s best round by req/s. The best round is the one least disturbed by
 * whatever else the machine was doing; a failed round is kept when no round succeeded.
 */
export function bestOfRounds(results: readonly CellResult[]): CellResult[] {
  const best = new Map<string, CellResult>();
  for (const r of results) {
    const key = `${r.workload}\u0000${r.system}`;
    const current = best.get(key);
    const better =
      !current ||
      (current.error && !r.error) ||
      (!r.error && r.kind === 'echo' && current.kind === 'echo' && r.reqPerSec > current.reqPerSec);
    if (better) best.set(key, r);
  }
  return [...best.values()];
}

export function echoResults(results: readonly CellResult[]): EchoCellResult[] {
  return results.filter((r): r is EchoCellResult => r.kind === 'echo');
}

export function ratio(results: readonly CellResult[], row: EchoCellResult, baseline: SystemName): number | undefined {
  const base = echoResults(results).find((r) => r.workload === row.workload && r.system === baseline);
  if (!base || base.error || !base.reqPerSec || row.error) return undefined;
  return row.reqPerSec / base.reqPerSec;
}

/** The idle-connections rows, one line each. */
export function formatIdleTable(results: readonly CellResult[]): string {
  const idle = results.filter((r): r is IdleCellResult => r.kind === 'idle-connections');
  if (!idle.length) return '';
  const lines = idle.map((r) => {
    const m = r.idle;
    const measured = m
      ? `${m.connections.toLocaleString('en-US')} conns (server counts ${m.serverConnections}), heartbeat ` +
        `${m.heartbeatIntervalMs}/${m.heartbeatTimeoutMs} ms: server heap ${formatBytes(m.heapPerConnectionBytes)}/conn ` +
        `(rss ${formatBytes(m.rssPerConnectionBytes)}/conn), CPU ${m.cpuPercent.toFixed(2)} % of a core over ` +
        `${(m.windowMs / 1000).toFixed(1)} s, ${Math.round(m.pingsPerSec)} pings/s and ${Math.round(m.pongsPerSec)} ` +
        `pongs/s, connect ${(m.connectMs / 1000).toFixed(1)} s, ${m.dropped} dropped`
      : '';
    return `${r.workload}  ${r.system}  ${r.error ? `FAILED: ${r.error}${measured ? `\n  ${measured}` : ''}` : measured}`;
  });
  return lines.join('\n');
}

/** The large-service rows, one line each. */
export function formatScaleTable(results: readonly CellResult[]): string {
  const cells = results.filter((r): r is ScaleCellResult => r.kind === 'scale');
  const lines: string[] = [];
  for (const r of cells) {
    if (r.error || !r.scale) {
      lines.push(`${r.workload}  FAILED: ${r.error ?? 'no measurement'}`);
      continue;
    }
    const m = r.scale;
    const pct = Math.round(m.changedShare * 100);
    lines.push(`${r.workload} (in-process, no sockets)`);
    const ms = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    for (const p of m.push) {
      lines.push(
        `  push, ${pct} % of ${m.providers} changed, ${p.balancer.padEnd(17)} median ${p.medianMs.toFixed(2)} ms ` +
          `(each: ${ms(p.applyMs)}; listener ${ms(p.listenerMs)}; first pick ${ms(p.pickMs)})`,
      );
    }
    for (const p of m.pick) lines.push(`  pick, ${m.providers} ready, ${p.balancer.padEnd(19)} ${p.ns.toFixed(0)} ns`);
    lines.push(
      `  heap per known, unconnected provider ${formatBytes(m.heap.perProviderBytes)} ` +
        `(meanwhile ${m.heap.connectionsOpened} providers connected, ${m.heap.connectionObjects} with Connection objects)`,
    );
    lines.push(
      `  lazy: ${m.lazy.calls} calls on ${m.lazy.patternsCalled} patterns served by ${m.lazy.serving} of ${m.lazy.known} providers ` +
        `opened ${m.lazy.addressesOpened} (Connection objects for ${m.lazy.connectionObjects})`,
    );
  }
  return lines.join('\n');
}

export function formatBytes(bytes: number): string {
  return Math.abs(bytes) >= 1024 ? `${(bytes / 1024).toFixed(2)} KiB` : `${Math.round(bytes)} B`;
}

export function formatTable(all: readonly CellResult[]): string {
  const results = echoResults(all);
  const header = ['workload', 'system', 'codec', 'req/s', 'p50', 'p99', 'cpu/call c+s', 'vs nest-tcp', 'vs raw-json', 'vs raw-net'];
  const rows = results.map((r) =>
    r.error
      ? [r.workload, r.system, r.codec, 'FAILED', '', '', '', '', '', '', `  ${r.error}`]
      : [
          r.workload,
          r.system,
          r.codec,
          Math.round(r.reqPerSec).toLocaleString('en-US'),
          formatUs(r.latencyUs.p50),
          formatUs(r.latencyUs.p99),
          r.cpuUsPerRequest ? formatCpu(r.cpuUsPerRequest) : '-',
          formatRatio(ratio(all, r, 'nest-tcp')),
          formatRatio(ratio(all, r, 'raw-json')),
          formatRatio(ratio(all, r, 'raw-net')),
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const leftAligned = new Set([0, 1, 2]);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i >= widths.length ? c : leftAligned.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (let i = 0; i < rows.length; i++) {
    if (previous && results[i].workload !== previous) out.push('');
    previous = results[i].workload;
    out.push(line(rows[i]));
  }
  return out.join('\n');
}

export function formatUs(us: number): string {
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1_000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us} us`;
}

/** `client+server` microseconds of CPU per call. */
export function formatCpu(cpu: CpuPerRequest): string {
  const f = (us: number) => (us >= 100 ? us.toFixed(0) : us.toFixed(1));
  return cpu.serverUs === undefined ? `${f(cpu.clientUs)}+?` : `${f(cpu.clientUs)}+${f(cpu.serverUs)} us`;
}

function formatRatio(r: number | undefined): string {
  return r === undefined ? '-' : `${r.toFixed(2)}x`;
}

export interface ResultsFile {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly args: BenchArgs;
  readonly environment: Record<string, unknown>;
  readonly results: readonly CellResult[];
  /** With `--rounds` > 1: every round's cells (`results` holds each system's best round). */
  readonly rounds?: readonly CellResult[];
  /** The issue's targets, checked against `results`. */
  readonly targets?: readonly { target: string; measured: string; verdict: string }[];
}

/** Writes `<dir>/<timestamp>.json` and returns its path. */
export async function saveResults(dir: string, file: ResultsFile): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${file.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(path, JSON.stringify(file, null, 2) + '\n');
  return path;
}

export function describeEnvironment(): Record<string, unknown> {
  const cpuList = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model,
    totalMemMiB: Math.round(totalmem() / 2 ** 20),
  };
}
