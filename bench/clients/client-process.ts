/**
 * One system's client process (forked by ../child-clients.ts, one per system, kept for the whole
 * run). Its own heap and JIT: a client measured after others in the same process ran slower,
 * on a heap they had grown and a load loop they had made polymorphic. It runs the echo cells
 * it is sent, one at a time, and exits with the parent (../child-lifetime.ts).
 *
 * IPC: sends `{type:'ready'}` once listening; answers each `{type:'run', id, ...}` with
 * `{type:'result', id, result}` (a failed cell is a result with `error`, as in-process).
 */
import { exitWithParent } from '../child-lifetime.js';
import { runEchoCell } from '../echo-cell.js';
import type { EchoCellResult } from '../report.js';
import { SYSTEMS, type SystemName } from '../systems.js';
import { WORKLOADS, type Codec, type EchoWorkload } from '../workloads.js';

export interface RunCellRequest {
  readonly type: 'run';
  readonly id: number;
  readonly workload: string;
  readonly system: SystemName;
  readonly server: { readonly port: number; readonly pid: number };
  readonly codec: Codec;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export type ClientMessage = { type: 'ready' } | { type: 'result'; id: number; result: EchoCellResult };

// A cell's client is closed by runEchoCell itself; between cells there is nothing to close.
const exit = exitWithParent('a bench client', () => undefined);

process.on('message', (msg: RunCellRequest) => {
  if (msg?.type !== 'run') return;
  runCell(msg).then(
    (result) => {
      const reply: ClientMessage = { type: 'result', id: msg.id, result };
      process.send?.(reply);
    },
    (err: unknown) => {
      // The parent sees the exit and reports the cell as failed.
      console.error(err);
      exit(1);
    },
  );
});

const ready: ClientMessage = { type: 'ready' };
process.send?.(ready);

async function runCell(req: RunCellRequest): Promise<EchoCellResult> {
  const workload = WORKLOADS.find((w): w is EchoWorkload => w.kind === 'echo' && w.id === req.workload);
  const system = SYSTEMS.find((s) => s.name === req.system);
  // Both come from the parent's own tables, so this is a bench bug, not a measurement.
  if (!workload || !system) throw new Error(`client process: unknown echo workload "${req.workload}" or system "${req.system}"`);
  const { server, codec, warmupMs, durationMs } = req;
  // runEchoCell reports its own failures as a result with `error`.
  return runEchoCell(workload, system, { server, codec, warmupMs, durationMs });
}
