import type { Socket } from 'node:net';
import type * as GrpcJs from '@grpc/grpc-js';
import type { NacosPayload, PayloadCodec } from '../../registry/nacos-grpc/payload-codec.js';

/** A response the client wrote on the stream, matched to the server's request by requestId. */
type Waiter = (payload: NacosPayload | undefined) => void;

/**
 * One client connection as Nacos's ConnectionManager holds it: created per TCP transport (the
 * connectionId names its remote address), registered by ConnectionSetupRequest on the stream,
 * gone when the transport closes.
 */
export class GrpcTestConnection {
  registered = false;
  /** `labels.module == "naming"`: only then does the naming module hold a client for it. */
  naming = false;
  labels: Record<string, string> = {};
  clientVersion = '';
  abilityTable: Record<string, boolean> | undefined;
  lastActive = Date.now();
  /** `namespace|GROUP@@svc` this connection subscribed to. */
  readonly subscriptions = new Set<string>();
  stream: GrpcJs.ServerDuplexStream<Buffer, Buffer> | undefined;
  closed = false;
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    readonly id: string,
    readonly peer: string,
    readonly clientId: string,
    readonly socket: Socket,
    private readonly codec: PayloadCodec,
    private readonly record: (payload: NacosPayload, bytes: Buffer) => void,
  ) {}

  /** Writes a server request on the stream; resolves with the client's response, or undefined on timeout/close. */
  request(payload: NacosPayload, timeoutMs: number): Promise<NacosPayload | undefined> {
    const requestId = String(payload.body.requestId);
    return new Promise((resolve) => {
      if (!this.write(payload)) return resolve(undefined);
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      timer.unref();
      const finish: Waiter = (answer) => {
        clearTimeout(timer);
        this.waiters.delete(requestId);
        resolve(answer);
      };
      this.waiters.set(requestId, finish);
    });
  }

  /** A push/detection request without waiting (SetupAck: no answer expected). */
  write(payload: NacosPayload): boolean {
    const stream = this.stream;
    if (this.closed || !stream || stream.destroyed || stream.writableEnded) return false;
    const bytes = this.codec.encode(payload);
    this.record(payload, bytes);
    stream.write(bytes);
    return true;
  }

  /** A Response object arrived on the stream. */
  answer(payload: NacosPayload): boolean {
    const waiter = this.waiters.get(String(payload.body.requestId));
    if (!waiter) return false;
    waiter(payload);
    return true;
  }

  /** Transport closed: pending server requests end unanswered. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiters.values()]) waiter(undefined);
  }
}
