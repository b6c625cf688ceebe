/**
 * One echo cell for one system: fresh connection, sanity round trip, warm-up, measured loop.
 * Runs in that system's client process (clients/client-process.ts), so the CPU it samples of
 * itself is this client's alone.
 */
import type { EchoClient } from './clients/echo-client.js';
import { cpuPerRequest, sampleCpu, type CpuSample } from './cpu-usage.js';
import { errorMessage, runClosedLoop, type LoopResult } from './load-loop.js';
import { monotonicUs, type EchoCellResult, type MonotonicWindow } from './report.js';
import type { SystemSpec } from './systems.js';
import { makePayload, type Codec, type EchoWorkload } from './workloads.js';

export interface EchoCellOptions {
  readonly server: { readonly port: number; readonly pid: number };
  readonly codec: Codec;
  readonly warmupMs: number;
  readonly durationMs: number;
}

const CLOSE_TIMEOUT_MS = 5_000;

export async function runEchoCell(workload: EchoWorkload, system: SystemSpec, opts: EchoCellOptions): Promise<EchoCellResult> {
  const base = echoCellBase(workload, system, opts.codec);
  let client: EchoClient | undefined;
  try {
    const { port, pid } = opts.server;
    const payload = makePayload(workload.payloadBytes);
    client = await system.createClient(port, opts.codec);
    await client.connect();
    const echoed = await client.echo(payload);
    if (echoed !== payload) {
      throw new Error(`echo returned ${typeof echoed} ${String(echoed).slice(0, 40)}... instead of the payload`);
    }
    const c = client;
    let cpuStart: CpuSample | undefined;
    let cpuEnd: CpuSample | undefined;
    let windowFrom = 0;
    let windowUs: MonotonicWindow | undefined;
    const loop: LoopResult = await runClosedLoop(() => c.echo(payload), {
      concurrency: workload.concurrency,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      onMeasure: (edge) => {
        if (edge === 'start') {
          cpuStart = sampleCpu(pid);
          windowFrom = monotonicUs();
        } else {
          cpuEnd = sampleCpu(pid);
          windowUs = { from: windowFrom, to: monotonicUs() };
        }
      },
    });
    const cpu = cpuStart && cpuEnd ? cpuPerRequest(cpuStart, cpuEnd, loop.requests) : undefined;
    return { ...base, ...loop, ...(cpu ? { cpuUsPerRequest: cpu } : {}), ...(windowUs ? { windowUs } : {}) };
  } catch (err) {
    return failedEchoCell(workload, system, opts.codec, err);
  } finally {
    if (client) await closeQuietly(client);
  }
}

/** The result of a cell that could not run (also when its server or client process failed). */
export function failedEchoCell(workload: EchoWorkload, system: SystemSpec, codec: Codec, err: unknown): EchoCellResult {
  const latencyUs = { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return { ...echoCellBase(workload, system, codec), requests: 0, elapsedMs: 0, reqPerSec: 0, latencyUs, error: errorMessage(err) };
}

function echoCellBase(workload: EchoWorkload, system: SystemSpec, codec: Codec) {
  return {
    workload: workload.id,
    kind: 'echo' as const,
    payloadBytes: workload.payloadBytes,
    concurrency: workload.concurrency,
    system: system.name,
    codec: system.wireFormat(codec),
  };
}

async function closeQuietly(client: EchoClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.close().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
