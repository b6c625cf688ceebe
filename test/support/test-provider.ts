import type { Server as NetServer, Socket } from 'node:net';
import { Controller, Inject, Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { finalize, interval, map, NEVER, take, type Observable } from 'rxjs';
import { MsRpcContext, MsRpcServer, type MsRpcServerOptions } from '../../lib/index.js';
import { sleep } from './loopback-utils.js';

/** What the test handlers did, so tests can observe the server side (teardown, cancellation). */
export class ProviderProbe {
  /** Values emitted per stream id. */
  readonly emitted = new Map<string, number>();
  /** Stream ids whose handler stream was torn down (completed, cancelled or connection lost). */
  readonly finalized = new Set<string>();
  /** Requests a handler started on, by id. */
  readonly started = new Set<string>();
  /** Answers produced by `delay` after their caller may have given up, by id. */
  readonly answered = new Set<string>();
}

@Controller()
class TestController {
  constructor(@Inject(ProviderProbe) private readonly probe: ProviderProbe) {}

  @MessagePattern('echo')
  echo(@Payload() data: unknown) {
    return data;
  }

  /** Answers `value` after `ms`; records that it answered (the caller may be gone). */
  @MessagePattern('delay')
  async delay(@Payload() data: { ms: number; value: unknown; id?: string }) {
    if (data.id) this.probe.started.add(data.id);
    await sleep(data.ms);
    if (data.id) this.probe.answered.add(data.id);
    return data.value;
  }

  /** `count` values, one every `every` ms. */
  @MessagePattern('stream')
  stream(@Payload() data: { count: number; every: number }) {
    return interval(data.every).pipe(
      take(data.count),
      map((i) => i + 1),
    );
  }

  /**
   * An endless stream, observable from the test through the probe; with `startDelay` the handler
   * first awaits (an async handler that has not produced its stream yet when a cancel arrives).
   */
  @MessagePattern('ticker')
  async ticker(@Payload() data: { id: string; every: number; startDelay?: number }): Promise<Observable<number>> {
    this.probe.started.add(data.id);
    if (data.startDelay) await sleep(data.startDelay);
    return interval(data.every).pipe(
      map((i) => {
        this.probe.emitted.set(data.id, (this.probe.emitted.get(data.id) ?? 0) + 1);
        return i;
      }),
      finalize(() => this.probe.finalized.add(data.id)),
    );
  }

  /** Never answers; records its teardown. */
  @MessagePattern('hang')
  hang(@Payload() data: { id: string }) {
    this.probe.started.add(data.id);
    return NEVER.pipe(finalize(() => this.probe.finalized.add(data.id)));
  }

  /** A string of `size` characters (to exceed frame limits on the way back). */
  @MessagePattern('big')
  big(@Payload() data: { size: number }) {
    return 'x'.repeat(data.size);
  }

  /** The length of what was received (to check a large request arrived whole). */
  @MessagePattern('length')
  length(@Payload() data: string) {
    return data.length;
  }

  /** The caller's socket address: tells connections apart. */
  @MessagePattern('whoami')
  whoami(@Payload() _data: unknown, @Ctx() ctx: MsRpcContext) {
    return ctx.getRemoteAddress();
  }
}

@Module({})
class TestProviderModule {
  static with(probe: ProviderProbe): DynamicModule {
    return { module: TestProviderModule, controllers: [TestController], providers: [{ provide: ProviderProbe, useValue: probe }] };
  }
}

export interface TestProvider {
  readonly app: INestMicroservice;
  readonly server: MsRpcServer;
  readonly port: number;
  readonly address: string;
  readonly probe: ProviderProbe;
  /** Server-side sockets currently open. */
  readonly sockets: ReadonlySet<Socket>;
  /** Sockets accepted since start (open or not). */
  accepted(): number;
  /** Destroys every server-side socket at once (a crash as the client sees it). */
  destroySockets(): void;
  close(): Promise<void>;
}

/** The server-side sockets a listener holds now, and how many it accepted since (open or not). */
export function trackSockets(listener: NetServer): { sockets: ReadonlySet<Socket>; accepted(): number } {
  const sockets = new Set<Socket>();
  let accepted = 0;
  listener.on('connection', (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { sockets, accepted: () => accepted };
}

/** A real Nest microservice served by MsRpcServer on 127.0.0.1 (port 0 unless given). */
export async function startTestProvider(options: Partial<MsRpcServerOptions> = {}): Promise<TestProvider> {
  const probe = new ProviderProbe();
  const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300, ...options });
  const app = await NestFactory.createMicroservice(TestProviderModule.with(probe), { strategy: server, logger: false });
  await app.listen();
  const { sockets, accepted } = trackSockets(server.unwrap<NetServer>());
  let closing: Promise<void> | undefined;
  return {
    app,
    server,
    port: server.port,
    address: `127.0.0.1:${server.port}`,
    probe,
    sockets,
    accepted,
    destroySockets: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => (closing ??= app.close()),
  };
}
