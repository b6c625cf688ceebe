/** Result shape, the printed table, and the saved JSON. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchArgs } from './cli-args.js';
import type { CpuPerRequest } from './cpu-usage.js';
import type { LatencySummary } from './load-loop.js';
import type { SystemName } from './systems.js';
import type { Workload } from './workloads.js';

export interface CellResult {
  readonly workload: string;
  readonly kind: Workload['kind'];
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
  readonly error?: string;
}

export function ratio(results: readonly CellResult[], row: CellResult, baseline: SystemName): number | undefined {
  const base = results.find((r) => r.workload === row.workload && r.system === baseline);
  if (!base || base.error || !base.reqPerSec || row.error) return undefined;
  return row.reqPerSec / base.reqPerSec;
}

export function formatTable(results: readonly CellResult[]): string {
  const header = ['workload', 'system', 'codec', 'req/s', 'p50', 'p99', 'cpu/call c+s', 'vs nest-tcp', 'vs raw-net'];
  const rows = results.map((r) =>
    r.error
      ? [r.workload, r.system, r.codec, 'FAILED', '', '', '', '', '', `  ${r.error}`]
      : [
          r.workload,
          r.system,
          r.codec,
          Math.round(r.reqPerSec).toLocaleString('en-US'),
          formatUs(r.latencyUs.p50),
          formatUs(r.latencyUs.p99),
          r.cpuUsPerRequest ? formatCpu(r.cpuUsPerRequest) : '-',
          formatRatio(ratio(results, r, 'nest-tcp')),
          formatRatio(ratio(results, r, 'raw-net')),
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

function formatUs(us: number): string {
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
