import type { Clock } from '../../common/clock.js';
import type { GrpcConnection } from './grpc-connection.js';
import { expectSuccess, NacosType, requestPayload } from './nacos-messages.js';

/** Reported in ConnectionSetupRequest.clientVersion, in the Java client's format. */
export const CLIENT_VERSION = 'Nacos-Node-Client:v2.0.0(nestjs-ms-rpc)';

/** Abilities this client declares (the Java SDK's `SdkClientAbilities`: none that naming needs). */
const ABILITY_TABLE = { fuzzyWatch: false, lock: false, mcp: false };

export interface SetupTimings {
  serverCheckTimeout: number;
  setupAckTimeout: number;
}

/**
 * Waits for the server's SetupAckRequest. Created before the stream opens, so an ack that arrives
 * early is not missed; the connection's stream listener calls {@link acked}.
 */
export class SetupAckWaiter {
  private resolveAck: (() => void) | undefined;
  private rejectAck: ((reason: Error) => void) | undefined;
  readonly promise: Promise<void>;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveAck = resolve;
      this.rejectAck = reject;
    });
    this.promise.catch(() => undefined);
  }

  acked(): void {
    this.resolveAck?.();
  }

  fail(reason: Error): void {
    this.rejectAck?.(reason);
  }
}

/**
 * Nacos's connection handshake (`RpcClient`/`GrpcClient.connectToServer`):
 * 1. unary ServerCheckRequest: the server answers with the connectionId it gave this transport
 *    (or ErrorResponse 300 while it is starting);
 * 2. open the bi-stream and send ConnectionSetupRequest first, with labels `module: naming` (the
 *    naming module makes a client for the connection only then) and an abilityTable (which makes
 *    the server answer SetupAckRequest);
 * 3. wait for SetupAck before any naming call, which would otherwise get 301 "unregistered".
 *    Servers before 2.3.0 do not negotiate: they get the Java client's 100 ms grace.
 * SetupAck itself is never answered (the server expects no reply).
 * @throws NacosServerError / GrpcCallError / Error on any step's failure; the caller closes the connection.
 */
export async function setupConnection(
  connection: GrpcConnection,
  ack: SetupAckWaiter,
  labels: Record<string, string>,
  timings: SetupTimings,
  clock: Clock,
): Promise<void> {
  const check = await connection.unary(requestPayload(NacosType.ServerCheckRequest, 'internal', {}), timings.serverCheckTimeout);
  const body = expectSuccess(check, NacosType.ServerCheckResponse);
  connection.connectionId = typeof body.connectionId === 'string' ? body.connectionId : '';
  const negotiates = body.supportAbilityNegotiation === true;

  connection.openStream();
  const sent = connection.write(
    requestPayload(NacosType.ConnectionSetupRequest, 'internal', {
      clientVersion: CLIENT_VERSION,
      labels,
      abilityTable: ABILITY_TABLE,
    }),
  );
  if (!sent) throw new Error(`${connection.label}: stream closed before ConnectionSetup`);
  if (negotiates) {
    await withTimeout(ack.promise, timings.setupAckTimeout, clock, `${connection.label}: no SetupAck within ${timings.setupAckTimeout} ms`);
  } else {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 100));
  }
}

function withTimeout(promise: Promise<void>, ms: number, clock: Clock, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      () => {
        clock.clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clock.clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
