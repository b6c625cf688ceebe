/**
 * CPU time of the client (this process) and of a server child over the measured phase, so the
 * report can show what one call costs each side: far steadier than req/s on a shared, noisy box,
 * where throughput also depends on how the two processes happen to be scheduled.
 */
import { readFileSync } from 'node:fs';

export interface CpuSample {
  readonly clientUs: number;
  /** undefined where /proc is not available (not Linux). */
  readonly serverUs: number | undefined;
}

export interface CpuPerRequest {
  /** Client process CPU (user + system) per completed call, in microseconds. */
  readonly clientUs: number;
  readonly serverUs?: number;
}

/** Linux clock ticks per second for /proc stat times (USER_HZ, 100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

export function sampleCpu(serverPid: number | undefined): CpuSample {
  const self = process.cpuUsage();
  return { clientUs: self.user + self.system, serverUs: serverPid === undefined ? undefined : procCpuUs(serverPid) };
}

export function cpuPerRequest(from: CpuSample, to: CpuSample, requests: number): CpuPerRequest | undefined {
  if (requests <= 0) return undefined;
  const clientUs = (to.clientUs - from.clientUs) / requests;
  if (from.serverUs === undefined || to.serverUs === undefined) return { clientUs };
  return { clientUs, serverUs: (to.serverUs - from.serverUs) / requests };
}

function procCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces); utime and stime
    // are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}
