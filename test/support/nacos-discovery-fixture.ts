import { mkdtemp, rm } from 'node:fs/promises';
import type { Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Controller,
  Inject,
  Module,
  type DynamicModule,
  type INestMicroservice,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  MsRpcClient,
  MsRpcServer,
  NacosRegistry,
  type MsRpcClientOptions,
  type MsRpcServerOptions,
  type NacosRegistryOptionsInput,
} from '../../lib/index.js';
import { DirectorySnapshotStore } from '../../lib/directory/directory-snapshot.js';
import { serverListIdentity } from '../../lib/registry/registry-identity.js';
import {
  NacosGrpcTestServer,
  type NacosGrpcTestServerOptions,
  NacosTestServer,
  type NacosTestServerOptions,
} from '../../lib/testing/index.js';
import { callLoop } from './discovery-call-loop.js';
import { recordingLogger, sleep, waitFor } from './nacos-test-helpers.js';

/**
 * Discovery integration fixture: one Nacos test server, real Nest provider apps (MsRpcServer +
 * NacosRegistry, each with its own registry as separate processes would have) and MsRpcClient
 * consumers (each with its own NacosRegistry), all on loopback, with every timing shortened.
 * dispose() closes everything it created, in dependency order, and removes the snapshot dir.
 */

export const SERVICE = 'svc';

/** Nacos timings scaled down ~10x from the real 5 s beats / 15 s unhealthy / 30 s delete. */
export const FAST_NACOS: NacosTestServerOptions = {
  pushDelayMs: 20,
  cacheMillis: 300,
  clientBeatIntervalMs: 100,
  heartbeatTimeoutMs: 1500,
  deleteTimeoutMs: 3000,
};

/** Provider beat period, through the metadata key the Nacos client and server both honour. */
export const FAST_BEATS = { 'preserved.heart.beat.interval': '100' };

/** What a provider's handlers did, for assertions from the test. */
export class ProviderProbe {
  served = 0;
  /** Date.now() at the start of every call a handler took. */
  readonly starts: number[] = [];
  constructor(readonly name: string) {}
}

const PROBE = 'DISCOVERY_PROVIDER_PROBE';

@Controller()
class DiscoveryController {
  constructor(@Inject(PROBE) private readonly probe: ProviderProbe) {}

  @MessagePattern('whoami')
  whoami() {
    this.probe.starts.push(Date.now());
    this.probe.served++;
    return this.probe.name;
  }

  /** Answers its provider's name after `ms`: a call that is in flight for a while. */
  @MessagePattern('slow')
  async slow(@Payload() ms: number) {
    this.probe.starts.push(Date.now());
    await sleep(ms);
    this.probe.served++;
    return this.probe.name;
  }
}

@Module({})
class DiscoveryProviderModule {
  static forProbe(probe: ProviderProbe): DynamicModule {
    return { module: DiscoveryProviderModule, controllers: [DiscoveryController], providers: [{ provide: PROBE, useValue: probe }] };
  }
}

/**
 * Nest routes every `Logger` instance (MsRpcServer's included) through the logger of the last app
 * created, so one recorder per fixture sees all provider logs.
 */
export class NestLogRecorder implements LoggerService {
  readonly lines: Array<{ level: string; message: string }> = [];
  log = this.at('log');
  error = this.at('error');
  warn = this.at('warn');
  debug = this.at('debug');
  verbose = this.at('verbose');
  fatal = this.at('fatal');

  matching(level: string, pattern: RegExp): string[] {
    return this.lines.filter((l) => l.level === level && pattern.test(l.message)).map((l) => l.message);
  }

  private at(level: string) {
    return (message: unknown) => void this.lines.push({ level, message: String(message) });
  }
}

export interface DiscoveryProvider {
  readonly name: string;
  readonly probe: ProviderProbe;
  readonly server: MsRpcServer;
  readonly app: INestMicroservice;
  readonly registry: NacosRegistry;
  readonly registryLogger: ReturnType<typeof recordingLogger>;
  readonly port: number;
  /** `127.0.0.1:port`, the consumer-side instance id. */
  readonly address: string;
  /** Date.now() when the registry's deregister() for this provider succeeded. */
  readonly deregisteredAt: number | undefined;
  /** Graceful: app.close() (deregisters, drains), then the registry. Idempotent. */
  close(): Promise<void>;
  /**
   * A crash: the listening socket and every connection are reset, and the Nacos client stops
   * beating WITHOUT deregistering — what a SIGKILL'd process leaves behind.
   */
  crash(): Promise<void>;
}

export interface DiscoveryConsumer {
  readonly client: MsRpcClient;
  readonly registry: NacosRegistry;
  /** The consumer's NacosRegistry logger (the nacos client's warnings land here). */
  readonly logger: ReturnType<typeof recordingLogger>;
  /** The MsRpcClient's own logger. */
  readonly clientLogger: ReturnType<typeof recordingLogger>;
  /** Addresses the client evicted (its 'evicted' events), in order. */
  readonly evicted: string[];
}

/** What the fixture needs of a Nacos test server, whichever protocol it speaks. */
export interface FixtureNacos {
  readonly address: string;
  start(opts?: { wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
  instances(service: string): Array<{ port: number }>;
}

/** gRPC Nacos timings for the fixture: pushes fast, liveness and redo checked every 300 ms. */
export const FAST_GRPC_NACOS: NacosGrpcTestServerOptions = { pushDelayMs: 20, subscribePushDelayMs: 50 };
export const FAST_GRPC_CLIENT: Partial<NacosRegistryOptionsInput> = {
  grpc: { healthCheckInterval: 300, healthCheckTimeout: 500, healthCheckRetries: 1, redoInterval: 300, reconnectMaxDelay: 300, requestTimeout: 2000 },
};

export class DiscoveryFixture<N extends FixtureNacos = NacosTestServer> {
  readonly nestLogs = new NestLogRecorder();
  private readonly providers: DiscoveryProvider[] = [];
  private readonly consumers: DiscoveryConsumer[] = [];
  private readonly registries: NacosRegistry[] = [];
  private readonly loops: Array<ReturnType<typeof callLoop>> = [];

  private constructor(
    readonly nacos: N,
    readonly snapshotDir: string,
    private readonly registryOptions: Partial<NacosRegistryOptionsInput>,
  ) {}

  /** Starts the Nacos test server unless `running: false` (then it has a port, but is down). */
  static async create(options: { nacos?: NacosTestServerOptions; running?: boolean } = {}): Promise<DiscoveryFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'ms-rpc-nacos-it-'));
    const nacos = new NacosTestServer({ ...FAST_NACOS, ...options.nacos });
    // Binding once fixes the port, so providers and consumers can be pointed at a server that is down.
    await nacos.start();
    if (options.running === false) await nacos.stop();
    return new DiscoveryFixture(nacos, dir, { protocol: 'http' });
  }

  /** The same fixture over Nacos's gRPC protocol (providers and consumers use `protocol: 'grpc'`). */
  static async createGrpc(
    options: { nacos?: NacosGrpcTestServerOptions; registry?: Partial<NacosRegistryOptionsInput>; nacosServer?: NacosGrpcTestServer } = {},
  ): Promise<DiscoveryFixture<NacosGrpcTestServer>> {
    const dir = await mkdtemp(join(tmpdir(), 'ms-rpc-nacos-grpc-it-'));
    const nacos = options.nacosServer ?? new NacosGrpcTestServer({ ...FAST_GRPC_NACOS, ...options.nacos });
    if (!nacos.running) await nacos.start();
    return new DiscoveryFixture(nacos, dir, { protocol: 'grpc', ...FAST_GRPC_CLIENT, ...options.registry });
  }

  /** A NacosRegistry pointed at the test server, closed by dispose(). */
  registry(): NacosRegistry & { logger: ReturnType<typeof recordingLogger> } {
    const logger = recordingLogger();
    const registry = new NacosRegistry({ serverList: [this.nacos.address], logger, ...this.registryOptions });
    this.registries.push(registry);
    return Object.assign(registry, { logger });
  }

  async startProvider(
    name: string,
    options: { server?: Partial<MsRpcServerOptions>; registry?: NacosRegistry & { logger: ReturnType<typeof recordingLogger> } } = {},
  ): Promise<DiscoveryProvider> {
    const probe = new ProviderProbe(name);
    const registry = options.registry ?? this.registry();
    let deregisteredAt: number | undefined;
    const deregister = registry.deregister.bind(registry);
    registry.deregister = async (reg) => {
      await deregister(reg);
      deregisteredAt ??= Date.now();
    };
    const server = new MsRpcServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      service: SERVICE,
      metadata: { ...FAST_BEATS },
      shutdownTimeout: 5000,
      ...options.server,
    });
    const app = await NestFactory.createMicroservice(DiscoveryProviderModule.forProbe(probe), {
      strategy: server,
      logger: this.nestLogs,
    });
    await app.listen();
    const sockets = new Set<Socket>();
    const net = server.unwrap<NetServer>();
    net.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    let closing: Promise<void> | undefined;
    const ownsRegistry = options.registry === undefined;
    const provider: DiscoveryProvider = {
      name,
      probe,
      server,
      app,
      registry,
      registryLogger: registry.logger,
      port: server.port,
      address: `127.0.0.1:${server.port}`,
      get deregisteredAt() {
        return deregisteredAt;
      },
      close: () =>
        (closing ??= (async () => {
          await app.close();
          if (ownsRegistry) await registry.close();
        })()),
      crash: async () => {
        net.close();
        for (const socket of sockets) socket.resetAndDestroy();
        // close() stops beats and polling without deregistering.
        await registry.close();
      },
    };
    this.providers.push(provider);
    return provider;
  }

  /**
   * Waits until `consumer` has a ready connection to each of `addresses` (connections are lazy:
   * it keeps asking connect() meanwhile).
   */
  async waitConnected(consumer: DiscoveryConsumer, addresses: readonly string[], timeoutMs = 3000): Promise<void> {
    const channels = consumer.client.unwrap<{ pickAvailable(a: string): unknown }>();
    await waitFor(
      () => (void consumer.client.connect().catch(() => undefined), addresses.every((a) => channels.pickAvailable(a) !== undefined)),
      timeoutMs,
      `${addresses.join(', ')} connected`,
    );
  }

  consumer(options: Partial<MsRpcClientOptions> = {}): DiscoveryConsumer {
    const registry = this.registry();
    const logger = recordingLogger();
    const client = new MsRpcClient({
      service: SERVICE,
      registry,
      snapshotDir: this.snapshotDir,
      logger,
      timeout: 2000,
      connectTimeout: 3000,
      connectAttemptTimeout: 1000,
      heartbeatInterval: 200,
      heartbeatTimeout: 1000,
      backoff: { initialDelay: 50, maxDelay: 200, maxAttempts: 4 },
      ...options,
    });
    const evicted: string[] = [];
    client.on('evicted', (e) => evicted.push(e.address));
    const consumer: DiscoveryConsumer = { client, registry, logger: registry.logger, evicted, clientLogger: logger };
    this.consumers.push(consumer);
    return consumer;
  }

  /**
   * Runs the test server's health sweep now. A real Nacos keeps sweeping while its clients cannot
   * reach it (a partition); the test server's sweeper stops with it, so a test that models a long
   * partition runs the sweep once before restarting, to come back in the state a real server would.
   */
  sweepNacosNow(): void {
    if (!(this.nacos instanceof NacosTestServer)) return;
    (this.nacos as unknown as { store: { sweep(now: number): void } }).store.sweep(Date.now());
  }

  /** The snapshot file consumers of this fixture's Nacos keep for SERVICE in `dir` (keyed by the Nacos's identity). */
  snapshotFile(dir = this.snapshotDir): string {
    const identity = serverListIdentity('nacos', [this.nacos.address], 'public', 8848);
    return new DirectorySnapshotStore(dir, identity, recordingLogger()).fileFor(SERVICE, 'DEFAULT_GROUP');
  }

  /** Ports of the instances the test server stores for the service, sorted. */
  registeredPorts(): number[] {
    return this.nacos
      .instances(SERVICE)
      .map((i) => i.port)
      .sort((a, b) => a - b);
  }

  /** A {@link callLoop} that dispose() stops, should the test fail before it does. */
  callLoop(client: MsRpcClient, concurrency?: number): ReturnType<typeof callLoop> {
    const loop = callLoop(client, concurrency);
    this.loops.push(loop);
    return loop;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.loops.splice(0).map((l) => l.stop()));
    await Promise.allSettled(this.consumers.splice(0).map((c) => c.client.close()));
    await Promise.allSettled(this.providers.splice(0).map((p) => p.close()));
    await Promise.allSettled(this.registries.splice(0).map((r) => r.close()));
    await this.nacos.stop();
    await rm(this.snapshotDir, { recursive: true, force: true });
  }
}
