import { Inject, Injectable } from '@nestjs/common';
import type { Registry } from '../registry/registry.js';
import { MsRpcServer } from '../server/ms-rpc-server.js';
import type { MsRpcServerOptions } from '../server/server-options.js';
// `import type`: a value import of an interface used as a constructor parameter type survives
// transpilers that compile file by file (swc, esbuild) and fails to link (see MsRpcLifecycle).
import type { ResolvedMsRpcModuleOptions } from './ms-rpc-module-options.js';
import { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';

/**
 * Builds MsRpcServers from MsRpcModule's configuration: the channel's protocol settings (codec,
 * compression, limits), its heartbeat interval as the server's expectation of its clients, the
 * module's registry (Nacos mode: the server registers once listening and deregisters first on
 * close) and `registryTimeout`. Provided by `MsRpcModule.forRoot()`/`forRootAsync()`, so a pure
 * microservice gets its server from Nest's async microservice options, without an HTTP app:
 *
 * ```ts
 * const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(AppModule, {
 *   inject: [MsRpcServerFactory],
 *   useFactory: (servers: MsRpcServerFactory) => ({ strategy: servers.create({ service: 'math', port: 4100 }) }),
 * });
 * ```
 *
 * TLS and authentication are the server's own options (`{ tls: { key, cert }, auth: { tokens } }`):
 * the channel's `tls` and `authToken` are what this app presents as a client, never inherited.
 */
@Injectable()
export class MsRpcServerFactory {
  /** @internal Nest injects it; applications never construct one. */
  constructor(
    @Inject(MS_RPC_MODULE_OPTIONS) private readonly moduleOptions: ResolvedMsRpcModuleOptions,
    @Inject(MS_RPC_REGISTRY) private readonly registry: Registry | null,
  ) {}

  /** A new server; `options` override what comes from the module. Validated here (InvalidOptionsError). */
  create(options: Partial<MsRpcServerOptions> = {}): MsRpcServer {
    const { codec, compression, compressThreshold, maxFrameSize, maxBodySize, maxPatternLength, maxWriteBuffer, heartbeatInterval } =
      this.moduleOptions.channel;
    return new MsRpcServer({
      codec,
      compression,
      compressThreshold,
      maxFrameSize,
      maxBodySize,
      maxPatternLength,
      maxWriteBuffer,
      // Clients with pings off (0) send none: keep the server's default expectation instead of
      // passing 0, which MsRpcServer rejects (clientHeartbeatInterval must be at least 1).
      ...(heartbeatInterval > 0 ? { clientHeartbeatInterval: heartbeatInterval } : {}),
      ...(this.registry ? { registry: this.registry } : {}),
      registryTimeout: this.moduleOptions.registryTimeout,
      ...options,
    });
  }
}
