import { createServer, type AddressInfo } from 'node:net';
import type { Clock, TimerHandle } from '../../lib/common/clock.js';
import { systemClock } from '../../lib/common/clock.js';
import type { MsRpcLogger } from '../../lib/common/logger.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 10 ms until it returns a truthy value (returned) or `timeoutMs` passes. */
export async function waitUntil<T>(check: () => T, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Logger that keeps every line, so tests stay quiet and can assert on warnings. */
export function recordingLogger(): MsRpcLogger & { lines: Array<{ level: string; message: string }> } {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug'), verbose: at('verbose') };
}

/** A free loopback port (bound, read, released), for providers that must start later on a known port. */
export async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Settles `promise` and reports how long it took, as a value (never throws). */
export async function timed<T>(
  promise: Promise<T>,
): Promise<{ ms: number; value?: T; error?: unknown; ok: boolean }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - start, value, ok: true };
  } catch (error) {
    return { ms: performance.now() - start, error, ok: false };
  }
}

/**
 * The system clock, counting the timers that are still armed (created, neither fired nor
 * cleared). Handed to a client, it proves close() leaves no timer behind.
 */
export class TrackingClock implements Clock {
  private readonly live = new Set<TimerHandle>();

  get pendingTimers(): number {
    return this.live.size;
  }

  now(): number {
    return systemClock.now();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = systemClock.setTimeout(() => {
      this.live.delete(handle);
      callback();
    }, ms);
    this.live.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.live.delete(handle);
    systemClock.clearTimeout(handle);
  }
}
