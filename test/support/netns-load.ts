import { MsRpcClient, type ConnectionState, type MsRpcClientOptions } from '../../lib/index.js';
import { recordingLogger, sleep, waitUntil } from './loopback-utils.js';
import type { StateEvent } from './test-client.js';

/** One call of a load loop, with performance.now() times. */
export interface LoadCall {
  readonly startedAt: number;
  endedAt: number;
  value?: string;
  error?: unknown;
}

/**
 * `concurrency` callers running `call` back to back (with a short pause) until stop(), so a
 * partition always finds calls in flight and new ones arriving. Never throws: every call, its
 * answer or error and its duration are recorded, so a test can account for each one.
 */
export function loadLoop(call: () => Promise<string>, concurrency = 4, pauseMs = 5) {
  const calls: LoadCall[] = [];
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      const record: LoadCall = { startedAt: performance.now(), endedAt: 0 };
      calls.push(record);
      try {
        record.value = await call();
      } catch (error) {
        record.error = error;
      }
      record.endedAt = performance.now();
      await sleep(pauseMs);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    calls,
    /** Whether `provider` answered a call that started after `since`. */
    answeredBy: (provider: string, since = 0) => calls.some((c) => c.value === provider && c.startedAt >= since),
    async stop(): Promise<LoadCall[]> {
      stopped = true;
      await Promise.all(workers);
      return calls;
    },
  };
}

/**
 * A client in direct mode against `addresses` (`host:port`), with a recording logger and a log
 * of every connection-state event stamped with performance.now() when it was emitted.
 */
export function recordedClient(addresses: string[], options: Partial<MsRpcClientOptions>) {
  const client = new MsRpcClient({ providers: addresses, logger: recordingLogger(), ...options });
  const states: StateEvent[] = [];
  client.on('connection-state', (e) => states.push({ ...e, at: performance.now() }));
  /** The first event of `address` going to `to` after `since`, waiting up to `timeoutMs`. */
  const nextState = (address: string, to: ConnectionState, since: number, timeoutMs = 5000): Promise<StateEvent> =>
    waitUntil(
      () => states.find((e) => e.address === address && e.to === to && e.at >= since),
      timeoutMs,
      `${address} to go ${to}`,
    ) as Promise<StateEvent>;
  return { client, states, nextState };
}

