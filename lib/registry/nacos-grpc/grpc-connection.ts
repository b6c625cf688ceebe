import type * as GrpcJs from '@grpc/grpc-js';
import { hostPort } from '../../common/host-port.js';
import type { NacosServerAddress, NacosTlsOptions } from '../nacos-registry-options.js';
import type { GrpcModules } from './grpc-modules.js';
import { NACOS_STREAM_PATH, NACOS_UNARY_PATH, type NacosPayload } from './payload-codec.js';

/** What a connection reports to its owner. */
export interface GrpcConnectionListener {
  /** A request or response the server sent on the bi-stream (already decoded). */
  onStreamMessage(connection: GrpcConnection, payload: NacosPayload): void;
  /** The bi-stream ended or failed: the connection is unusable (fired once). */
  onStreamClosed(connection: GrpcConnection, reason: Error): void;
  /** Bytes on the stream that were not a Payload: logged, not fatal. */
  onBadMessage(connection: GrpcConnection, error: Error): void;
}

export interface GrpcConnectionConfig {
  tls: boolean | NacosTlsOptions;
  maxInboundMessageSize: number;
}

/** A unary call failed below Nacos: transport, deadline, or the call was cancelled by close(). */
export class GrpcCallError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GrpcCallError';
  }
}

const identity = (b: Buffer): Buffer => b;

/**
 * One gRPC channel to one Nacos server: ONE HTTP/2 connection that carries both the unary
 * `/Request/request` calls and the `/BiRequestStream/requestBiStream` stream. Nacos ties every unary
 * call to a connection by its transport, so both must share it; and the channel gets its own
 * subchannel pool, so two registries (or a stale connection beside a new one) never merge into one
 * Nacos connection.
 */
export class GrpcConnection {
  /** Set by the handshake from ServerCheckResponse. */
  connectionId = '';
  private readonly client: GrpcJs.Client;
  private stream: GrpcJs.ClientDuplexStream<Buffer, Buffer> | undefined;
  private closed = false;
  private streamClosed = false;

  constructor(
    private readonly modules: GrpcModules,
    readonly server: NacosServerAddress,
    config: GrpcConnectionConfig,
    private readonly listener: GrpcConnectionListener,
  ) {
    const { grpc } = modules;
    const options: GrpcJs.ClientOptions = {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': config.maxInboundMessageSize,
      // No HTTP/2 keepalive pings: Nacos permits one per 5 min at most and answers more with
      // GOAWAY; liveness comes from the HealthCheck requests.
      'grpc.keepalive_time_ms': -1,
      // One attempt per call; the Nacos client layer decides about retries and servers.
      'grpc.enable_retries': 0,
      // A channel is used for one connection and closed on failure, so grpc-js's own reconnect
      // backoff never grows; kept short because its pending timer outlives close() (unref'd).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
    const tls = config.tls;
    if (tls && typeof tls === 'object' && tls.servername) options['grpc.ssl_target_name_override'] = tls.servername;
    this.client = new grpc.Client(hostPort(server.host, server.grpcPort), credentials(grpc, tls), options);
  }

  get label(): string {
    return `${this.server.host}:${this.server.grpcPort}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * One unary call with a deadline. Fails fast when the server is unreachable (no wait-for-ready).
   * @throws GrpcCallError on any transport-level failure.
   */
  unary(payload: NacosPayload, timeoutMs: number): Promise<NacosPayload> {
    const { codec, grpc } = this.modules;
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new GrpcCallError(grpc.status.CANCELLED, `${this.label}: connection closed`));
      this.client.makeUnaryRequest<Buffer, Buffer>(
        NACOS_UNARY_PATH,
        identity,
        identity,
        codec.encode(payload),
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) {
            return reject(new GrpcCallError(err.code, `${this.label}: ${payload.type} failed: ${err.details || err.message}`, { cause: err }));
          }
          try {
            resolve(codec.decode(value!));
          } catch (decodeError) {
            reject(new GrpcCallError(grpc.status.INTERNAL, `${this.label}: bad ${payload.type} answer`, { cause: decodeError }));
          }
        },
      );
    });
  }

  /** Opens the bi-stream; messages and its end go to the listener. */
  openStream(): void {
    const { grpc, codec } = this.modules;
    const stream = this.client.makeBidiStreamRequest<Buffer, Buffer>(NACOS_STREAM_PATH, identity, identity, new grpc.Metadata());
    this.stream = stream;
    stream.on('data', (bytes: Buffer) => {
      if (this.closed) return;
      let payload: NacosPayload;
      try {
        payload = codec.decode(bytes);
      } catch (err) {
        return this.listener.onBadMessage(this, err as Error);
      }
      this.listener.onStreamMessage(this, payload);
    });
    stream.on('error', (err: GrpcJs.ServiceError) => this.streamEnded(new Error(`${this.label}: stream failed: ${err.details || err.message}`, { cause: err })));
    stream.on('end', () => this.streamEnded(new Error(`${this.label}: stream ended by the server`)));
  }

  /** Writes on the bi-stream; false when the stream is gone. `flushed` runs once the message left (or failed). */
  write(payload: NacosPayload, flushed?: () => void): boolean {
    if (this.closed || this.streamClosed || !this.stream) return false;
    this.stream.write(this.modules.codec.encode(payload), flushed && (() => flushed()));
    return true;
  }

  /** Cancels the stream and closes the channel, which closes the TCP connection (Nacos drops the connection's state). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.streamClosed = true;
    try {
      this.stream?.cancel();
    } finally {
      this.client.close();
    }
  }

  private streamEnded(reason: Error): void {
    if (this.streamClosed) return;
    this.streamClosed = true;
    if (!this.closed) this.listener.onStreamClosed(this, reason);
  }
}

function credentials(grpc: GrpcModules['grpc'], tls: boolean | NacosTlsOptions): GrpcJs.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const t = tls === true ? {} : tls;
  const buf = (v: string | Buffer | undefined) => (v === undefined ? null : Buffer.from(v));
  const verify: GrpcJs.VerifyOptions = {};
  if (t.rejectUnauthorized === false) {
    verify.rejectUnauthorized = false;
    verify.checkServerIdentity = () => undefined;
  }
  return grpc.credentials.createSsl(buf(t.ca), buf(t.key), buf(t.cert), verify);
}
