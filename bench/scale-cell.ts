/**
 * The large-service rows from the parent's side: one child process (bench/scale/scale-process.ts,
 * with --expose-gc for the heap row) runs them all and reports one measurement.
 */
import { awaitMessage, type ChildProcesses } from './child-processes.js';
import { errorMessage } from './load-loop.js';
import type { ScaleCellResult } from './report.js';
import type { ScaleMessage, ScaleRequest } from './scale/scale-process.js';
import type { ScaleWorkload } from './workloads.js';

const SCRIPT = new URL('./scale/scale-process.js', import.meta.url);
const START_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 300_000;

export async function runScaleCell(workload: ScaleWorkload, processes: ChildProcesses): Promise<ScaleCellResult> {
  const base = { workload: workload.id, kind: 'scale' as const, system: 'ms-rpc' as const, codec: 'json' };
  const child = processes.fork('scale rows', SCRIPT, [], ['--expose-gc']);
  try {
    await awaitMessage(child, (msg: ScaleMessage) => (msg.type === 'ready' ? true : undefined), START_TIMEOUT_MS, 'ready');
    const result = awaitMessage(
      child,
      (msg: ScaleMessage) => {
        if (msg.type === 'error') throw new Error(`scale rows failed:\n${msg.message}`);
        return msg.type === 'result' ? msg.result : undefined;
      },
      RUN_TIMEOUT_MS,
      'the scale measurements',
    );
    child.send({ type: 'run', spec: workload.spec } satisfies ScaleRequest);
    return { ...base, scale: await result };
  } catch (err) {
    return { ...base, error: errorMessage(err) };
  } finally {
    await processes.stop(child);
  }
}
