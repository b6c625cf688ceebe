import type { Clock } from '../../lib/common/clock.js';
import { MsRpcClient, type ConnectionState, type MsRpcClientOptions } from '../../lib/index.js';
import { recordingLogger } from './loopback-utils.js';

/** Liveness settings that keep loopback tests fast while leaving a loaded CI box some slack. */
export const FAST_LIVENESS = Object.freeze({
  heartbeatInterval: 100,
  // Idle connections paced apart from busy ones, as in production, but found dead as fast.
  idleHeartbeatInterval: 300,
  heartbeatTimeout: 300,
  connectAttemptTimeout: 1000,
  backoff: { initialDelay: 20, factor: 2, maxDelay: 100, jitter: 0 },
});

export interface StateEvent {
  address: string;
  from: ConnectionState;
  to: ConnectionState;
  reason?: Error;
  at: number;
}

/**
 * A client with FAST_LIVENESS, a recording logger and a log of every connection-state event
 * (with the time it arrived), in direct mode against `ports` on 127.0.0.1.
 */
export function testClient(
  ports: number | number[],
  options: Partial<MsRpcClientOptions> = {},
  clock?: Clock,
): { client: MsRpcClient; states: StateEvent[]; logger: ReturnType<typeof recordingLogger> } {
  const logger = recordingLogger();
  const providers = (Array.isArray(ports) ? ports : [ports]).map((p) => `127.0.0.1:${p}`);
  // A test with its own heartbeatInterval gets idle pings as many of its intervals apart.
  const idleHeartbeatInterval =
    options.idleHeartbeatInterval ??
    (options.heartbeatInterval === undefined
      ? FAST_LIVENESS.idleHeartbeatInterval
      : (options.heartbeatInterval * FAST_LIVENESS.idleHeartbeatInterval) / FAST_LIVENESS.heartbeatInterval);
  const client = new MsRpcClient({ providers, logger, ...FAST_LIVENESS, idleHeartbeatInterval, ...options }, { clock });
  const states: StateEvent[] = [];
  client.on('connection-state', (e) => states.push({ ...e, at: performance.now() }));
  return { client, states, logger };
}
