/**
 * `npm run bench`: echo round trips through ms-rpc, Nest's TCP transport and a raw node:net
 * baseline, alternating systems within each workload cell so drift hits all of them equally.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildServers } from './child-server.js';
import { parseBenchArgs, UsageError, USAGE, type BenchArgs } from './cli-args.js';
import { runEchoCell } from './echo-cell.js';
import { describeEnvironment, formatCpu, formatTable, ratio, saveResults, type CellResult } from './report.js';
import { SYSTEMS, type SystemSpec } from './systems.js';
import { WORKLOADS, type Codec, type Workload } from './workloads.js';

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

/** Servers are shared by all cells that need the same server arguments (e.g. the same codec). */
class ServerPool {
  private readonly servers = new Map<string, Promise<{ port: number; pid: number }>>();

  constructor(private readonly children: ChildServers) {}

  server(system: SystemSpec, codec: Codec): Promise<{ port: number; pid: number }> {
    const args = system.serverArgs(codec);
    const key = [system.name, ...args].join(' ');
    let server = this.servers.get(key);
    if (!server) {
      server = this.children.start(key, system.serverScript, args);
      server.catch(() => undefined); // reported by every cell that awaits it
      this.servers.set(key, server);
    }
    return server;
  }
}

async function runCell(workload: Workload, system: SystemSpec, args: BenchArgs, pool: ServerPool): Promise<CellResult> {
  switch (workload.kind) {
    case 'echo': {
      const codec = workload.codec ?? args.codec;
      return runEchoCell(workload, system, {
        server: pool.server(system, codec),
        codec,
        warmupMs: args.warmupMs,
        durationMs: args.durationMs,
      });
    }
  }
}

function progressLine(i: number, total: number, r: CellResult): string {
  const head = `[${i}/${total}] ${r.workload.padEnd(16)} ${r.system.padEnd(8)}`;
  if (r.error) return `${head} FAILED: ${r.error}`;
  const { p50, p99 } = r.latencyUs;
  const cpu = r.cpuUsPerRequest ? `  cpu/call ${formatCpu(r.cpuUsPerRequest)}` : '';
  return `${head} ${Math.round(r.reqPerSec).toLocaleString('en-US').padStart(9)} req/s  p50 ${p50} us  p99 ${p99} us${cpu}`;
}

/** `--quick`: ms-rpc must beat nest-tcp by `minRatio` on every quick cell. */
function regressionGuard(results: readonly CellResult[], args: BenchArgs): boolean {
  if (!args.only.includes('ms-rpc') || !args.only.includes('nest-tcp')) {
    console.log('\nregression guard skipped: it needs both ms-rpc and nest-tcp');
    return true;
  }
  let ok = true;
  for (const r of results.filter((x) => x.system === 'ms-rpc')) {
    const x = ratio(results, r, 'nest-tcp');
    const pass = x !== undefined && x >= args.minRatio;
    ok &&= pass;
    const shown = x === undefined ? 'n/a (a run failed)' : `${x.toFixed(2)}x`;
    console.log(`\nregression guard ${r.workload}: ms-rpc/nest-tcp = ${shown}, minimum ${args.minRatio}x -> ${pass ? 'PASS' : 'FAIL'}`);
  }
  return ok;
}

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    const parsed = parseBenchArgs(process.argv.slice(2));
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    args = parsed;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    return 2;
  }

  const unknownWorkloads = args.workloads.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknownWorkloads.length) {
    console.error(`unknown workload(s) ${unknownWorkloads.join(', ')}; known: ${WORKLOADS.map((w) => w.id).join(', ')}`);
    return 2;
  }
  const workloads = WORKLOADS.filter((w) =>
    args.workloads.length ? args.workloads.includes(w.id) : !args.quick || w.quick,
  );
  const systems = SYSTEMS.filter((s) => args.only.includes(s.name));
  const children = new ChildServers();
  children.installTeardown();
  const pool = new ServerPool(children);
  const startedAt = new Date().toISOString();
  const total = workloads.length * systems.length;
  console.log(
    `bench: ${workloads.length} workload(s) x ${systems.map((s) => s.name).join(', ')}; ` +
      `warm-up ${args.warmupMs} ms, measure ${args.durationMs} ms, ms-rpc codec ${args.codec}\n`,
  );

  const results: CellResult[] = [];
  try {
    for (const workload of workloads) {
      for (const system of systems) {
        const r = await runCell(workload, system, args, pool);
        if (children.isStopping) return 130;
        results.push(r);
        console.log(progressLine(results.length, total, r));
      }
    }
  } finally {
    await children.stopAll();
  }

  console.log(`\n${formatTable(results)}`);
  const path = await saveResults(RESULTS_DIR, {
    startedAt,
    finishedAt: new Date().toISOString(),
    args,
    environment: describeEnvironment(),
    results,
  });
  console.log(`\nresults: ${path}`);

  const failed = results.some((r) => r.error);
  const guardOk = args.quick ? regressionGuard(results, args) : true;
  return failed || !guardOk ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
