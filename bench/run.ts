/**
 * `npm run bench`: echo round trips through ms-rpc, Nest's TCP transport and two raw node:net
 * baselines (raw-json: JSON over minimal framing, the targets' baseline; raw-net: bytes only, the
 * socket limit), alternating systems within each workload cell so drift hits all of them equally.
 * This process only orchestrates: every server and every system's client runs in a child.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildClients } from './child-clients.js';
import { ChildProcesses } from './child-processes.js';
import { ChildServers } from './child-server.js';
import { parseBenchArgs, UsageError, USAGE, type BenchArgs } from './cli-args.js';
import { runIdleCell } from './idle-cell.js';
import { runScaleCell } from './scale-cell.js';
import {
  bestOfRounds,
  describeEnvironment,
  echoResults,
  formatCpu,
  formatIdleTable,
  formatScaleTable,
  formatTable,
  ratio,
  saveResults,
  type CellResult,
} from './report.js';
import { checkTargets, formatTargets } from './targets.js';
import { SYSTEMS, type SystemSpec } from './systems.js';
import { WORKLOADS, type Codec, type Workload } from './workloads.js';

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

/** Servers are shared by all cells that need the same server arguments (e.g. the same codec). */
class ServerPool {
  private readonly servers = new Map<string, Promise<{ port: number; pid: number }>>();

  constructor(private readonly children: ChildServers) {}

  server(system: SystemSpec, codec: Codec): Promise<{ port: number; pid: number }> {
    const args = system.serverArgs(codec);
    // By script, not system name: ms-rpc and ms-rpc-call share one server.
    const key = [system.serverScript.pathname.split('/').pop(), ...args].join(' ');
    let server = this.servers.get(key);
    if (!server) {
      server = this.children.start(key, system.serverScript, args);
      server.catch(() => undefined); // reported by every cell that awaits it
      this.servers.set(key, server);
    }
    return server;
  }
}

/** The run's child processes, by role. */
interface Children {
  readonly processes: ChildProcesses;
  readonly servers: ChildServers;
  readonly pool: ServerPool;
  readonly clients: ChildClients;
}

async function runCell(workload: Workload, system: SystemSpec, args: BenchArgs, children: Children): Promise<CellResult> {
  const { processes, servers, pool, clients } = children;
  switch (workload.kind) {
    case 'idle-connections':
      return runIdleCell(workload, system, servers, processes);
    case 'scale':
      return runScaleCell(workload, processes);
    case 'echo': {
      const codec = workload.codec ?? args.codec;
      return clients.runEchoCell(workload, system, {
        server: pool.server(system, codec),
        codec,
        warmupMs: args.warmupMs,
        durationMs: args.durationMs,
      });
    }
  }
}

function progressLine(i: number, total: number, r: CellResult): string {
  const head = `[${i}/${total}] ${r.workload.padEnd(16)} ${r.system.padEnd(11)}`;
  if (r.error) return `${head} FAILED: ${r.error}`;
  if (r.kind === 'idle-connections') return `${head} ${formatIdleTable([r]).split('  ').slice(2).join('  ')}`;
  if (r.kind === 'scale') return `${head} done (table below)`;
  const { p50, p99 } = r.latencyUs;
  const cpu = r.cpuUsPerRequest ? `  cpu/call ${formatCpu(r.cpuUsPerRequest)}` : '';
  return `${head} ${Math.round(r.reqPerSec).toLocaleString('en-US').padStart(9)} req/s  p50 ${p50} us  p99 ${p99} us${cpu}`;
}

/**
 * `--quick`: ms-rpc must beat nest-tcp by `minRatio` on every quick cell, comparing each
 * system's best of `--rounds` short rounds. On a shared machine one disturbed cell can halve a
 * system's req/s; the best round of each is what the two achieve undisturbed, so the ratio only
 * drops when ms-rpc really got slower (a median would still fail when most rounds were disturbed).
 */
function regressionGuard(results: readonly CellResult[], allRounds: readonly CellResult[], args: BenchArgs): boolean {
  if (!args.only.includes('ms-rpc') || !args.only.includes('nest-tcp')) {
    console.log('\nregression guard skipped: it needs both ms-rpc and nest-tcp');
    return true;
  }
  let ok = true;
  for (const r of echoResults(results).filter((x) => x.system === 'ms-rpc')) {
    const x = ratio(results, r, 'nest-tcp');
    const pass = x !== undefined && x >= args.minRatio;
    ok &&= pass;
    const shown = x === undefined ? 'n/a (a run failed)' : `${x.toFixed(2)}x`;
    const perRound = roundRatios(allRounds, r.workload);
    const rounds = perRound.length > 1 ? ` (best of ${perRound.length} rounds; round by round ${perRound.join(', ')})` : '';
    console.log(
      `\nregression guard ${r.workload}: ms-rpc/nest-tcp = ${shown}${rounds}, minimum ${args.minRatio}x -> ${pass ? 'PASS' : 'FAIL'}`,
    );
  }
  return ok;
}

/** ms-rpc / nest-tcp of each round, for the log. */
function roundRatios(all: readonly CellResult[], workload: string): string[] {
  const rate = (system: string, round: number | undefined) =>
    echoResults(all).find((r) => r.workload === workload && r.system === system && r.round === round && !r.error)?.reqPerSec;
  return echoResults(all)
    .filter((r) => r.workload === workload && r.system === 'ms-rpc')
    .map((r) => {
      const nest = rate('nest-tcp', r.round);
      return nest && !r.error ? `${(r.reqPerSec / nest).toFixed(2)}x` : 'n/a';
    });
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
    args.workloads.length ? args.workloads.includes(w.id) : !args.quick || (w.kind === 'echo' && w.quick),
  );
  const systems = SYSTEMS.filter((s) => args.only.includes(s.name));
  // The idle rows are about the server: the Promise fast path, the bare transport and raw-json
  // (raw-net's sockets are the heartbeat floor there) have nothing to add, and a row with its own
  // heartbeat settings is about heartbeats (Nest has none).
  const idleSystems = new Set<string>(['ms-rpc', 'nest-tcp', 'raw-net']);
  // The large-service rows measure the library alone, once, when `scale` is selected.
  const scaleSystems = args.scale ? SYSTEMS.filter((s) => s.name === 'ms-rpc') : [];
  const systemsFor = (w: Workload) =>
    w.kind === 'scale'
      ? scaleSystems
      : w.kind === 'echo'
        ? systems.filter((s) => !s.workloads || s.workloads.includes(w.id))
        : systems.filter((s) => !s.workloads && idleSystems.has(s.name) && (!w.heartbeat || s.name !== 'nest-tcp'));
  const processes = new ChildProcesses();
  processes.installTeardown();
  const servers = new ChildServers(processes);
  const children: Children = { processes, servers, pool: new ServerPool(servers), clients: new ChildClients(processes) };
  const startedAt = new Date().toISOString();
  const total = workloads.reduce((n, w) => n + (w.kind === 'echo' ? args.rounds : 1) * systemsFor(w).length, 0);
  console.log(
    `bench: ${workloads.length} workload(s) x ${[...systems.map((s) => s.name), ...(args.scale ? ['scale'] : [])].join(', ')}; ` +
      `warm-up ${args.warmupMs} ms, measure ${args.durationMs} ms, ${args.rounds} round(s), ms-rpc codec ${args.codec}\n`,
  );

  const all: CellResult[] = [];
  try {
    for (let round = 0; round < args.rounds; round++) {
      for (const workload of workloads) {
        // An idle-connections cell is long and steady: one round says it all.
        if (round > 0 && workload.kind !== 'echo') continue;
        for (const system of systemsFor(workload)) {
          const cell = await runCell(workload, system, args, children);
          if (processes.isStopping) return 130;
          const r = args.rounds > 1 && cell.kind === 'echo' ? { ...cell, round } : cell;
          all.push(r);
          console.log(progressLine(all.length, total, r));
        }
      }
    }
  } finally {
    await processes.stopAll();
  }
  const results = args.rounds > 1 ? bestOfRounds(all) : all;
  if (args.rounds > 1) console.log(`\neach system's best of ${args.rounds} rounds:`);

  console.log(`\n${formatTable(results)}`);
  const idleTable = formatIdleTable(results);
  if (idleTable) console.log(`\n${idleTable}`);
  const scaleTable = formatScaleTable(results);
  if (scaleTable) console.log(`\n${scaleTable}`);
  const targets = checkTargets(results);
  if (!args.quick) console.log(`\n${formatTargets(targets)}`);
  const path = await saveResults(RESULTS_DIR, {
    startedAt,
    finishedAt: new Date().toISOString(),
    args,
    environment: describeEnvironment(),
    results,
    ...(args.rounds > 1 ? { rounds: all } : {}),
    targets,
  });
  console.log(`\nresults: ${path}`);

  // A failed call in any round is a bug, not noise.
  const failed = all.some((r) => r.error);
  const guardOk = args.quick ? regressionGuard(results, all, args) : true;
  return failed || !guardOk ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
