import { Controller, Inject, Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { concatMap, defer, finalize, from, interval, lastValueFrom, map, take, type Observable } from 'rxjs';
import {
  MsRpcClient,
  MsRpcContext,
  MsRpcRecordBuilder,
  MsRpcServer,
  type MsRpcClientOptions,
  type MsRpcServerOptions,
} from '../../lib/index.js';
import { setTimeout as delay } from 'node:timers/promises';
import { recordingLogger } from './loopback-utils.js';
import { RELAXED_HEARTBEAT } from './server-fixtures.js';

/** What one handler saw, by the id its caller gave. */
export interface Seen {
  /** When (performance.now()) the handler started. */
  startedAt: number;
  /** `ctx.remainingMs()` when the handler started. */
  remaining: number | undefined;
  /** `ctx.getDeadline()` minus `Date.now()` when the handler started. */
  deadlineIn: number | undefined;
  metadata: Record<string, string> | undefined;
  /** When (performance.now()) and why its signal aborted, once it did. */
  abortedAt?: number;
  abortReason?: unknown;
  /** What the nested call (B → C) failed with, if it failed. */
  nestedError?: unknown;
  /** When the nested call failed. */
  nestedFailedAt?: number;
}

export class ChainProbe {
  readonly seen = new Map<string, Seen>();
  readonly events: Array<{ data: unknown; metadata: Record<string, string> | undefined }> = [];
  /** Ids of endless streams torn down. */
  readonly finalized = new Set<string>();

  start(id: string, ctx: MsRpcContext): Seen {
    const deadline = ctx.getDeadline();
    const seen: Seen = {
      startedAt: performance.now(),
      remaining: ctx.remainingMs(),
      deadlineIn: deadline === undefined ? undefined : deadline - Date.now(),
      metadata: ctx.getMetadata(),
    };
    this.seen.set(id, seen);
    ctx.signal.addEventListener(
      'abort',
      () => {
        seen.abortedAt = performance.now();
        seen.abortReason = ctx.signal.reason;
      },
      { once: true },
    );
    return seen;
  }
}

/** What a call to B or C asks for. */
export interface Work {
  id: string;
  /** B waits this long before calling C (stopping early when told to). */
  ms?: number;
  /** B waits this long before calling C, whatever happens meanwhile (an uncooperative handler). */
  stubbornMs?: number;
  /** C answers after this many ms. */
  cMs?: number;
  /**
   * C waits for its signal instead of answering, then answers UNTIL_ABORTED_LINGER_MS later: the
   * deadline a request carries aborts C about when its caller's own timer fires, and an answer
   * sent at once could reach a loaded caller before that timer runs (an answer read in time is
   * taken), turning an expected timeout into a success.
   */
  untilAborted?: boolean;
  /** B's call to C opts out of the inherited deadline: in the call's options, or with a record. */
  detached?: 'options' | 'record';
}

const PROBE = 'CHAIN_PROBE';
const UNTIL_ABORTED_LINGER_MS = 300;
const C_CLIENT = 'C_CLIENT';

/** Resolves once `signal` aborts. */
function abortedSignal(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The leaf service: answers, waits for its signal, fails, streams, takes events. */
@Controller()
class LeafController {
  constructor(@Inject(PROBE) private readonly probe: ChainProbe) {}

  @MessagePattern('c.work')
  async work(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    const seen = this.probe.start(data.id, ctx);
    if (data.untilAborted) {
      await abortedSignal(ctx.signal);
      await delay(UNTIL_ABORTED_LINGER_MS);
      return 'nobody reads this';
    }
    // Cooperative: stops waiting (and drops its timer) when told to stop.
    if (data.cMs) await delay(data.cMs, undefined, { signal: ctx.signal });
    return { id: data.id, remaining: seen.remaining };
  }

  /** An endless stream whose handler never looks at its signal. */
  @MessagePattern('c.ticker')
  ticker(@Payload() data: Work) {
    return interval(10).pipe(finalize(() => this.probe.finalized.add(data.id)));
  }

  @MessagePattern('c.fail')
  fail(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    this.probe.start(data.id, ctx);
    throw new RpcException({ code: 'C_FAILED', message: `c.fail ${data.id}` });
  }

  @EventPattern<string>('c.note')
  note(@Payload() data: unknown, @Ctx() ctx: MsRpcContext) {
    this.probe.events.push({ data, metadata: ctx.getMetadata() });
  }
}

/** The middle service: calls the leaf from its handlers, with no deadline or trace plumbing. */
@Controller()
class MiddleController {
  constructor(
    @Inject(PROBE) private readonly probe: ChainProbe,
    @Inject(C_CLIENT) private readonly c: MsRpcClient,
  ) {}

  @MessagePattern('b.work')
  async work(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    const seen = this.probe.start(data.id, ctx);
    if (data.ms) await delay(data.ms, undefined, { signal: ctx.signal });
    if (data.stubbornMs) await delay(data.stubbornMs);
    try {
      const answer =
        data.detached === 'record'
          ? await this.c.call('c.work', new MsRpcRecordBuilder(data).setInheritDeadline(false).build())
          : await this.c.call('c.work', data, data.detached === 'options' ? { inheritDeadline: false } : undefined);
      return { b: seen.remaining, c: answer };
    } catch (err) {
      seen.nestedError = err;
      seen.nestedFailedAt = performance.now();
      // Says why, as an answer: the test reads what the nested call failed with.
      return { b: seen.remaining, nestedError: `${(err as Error).name}: ${(err as Error).message}` };
    }
  }

  /** The same through Nest's `send()` (an Observable, subscribed inside the handler). */
  @MessagePattern('b.send')
  async send(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    this.probe.start(data.id, ctx);
    return lastValueFrom(this.c.send('c.work', data));
  }

  /** Fails with what the leaf failed with. */
  @MessagePattern('b.fail')
  async fail(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    this.probe.start(data.id, ctx);
    try {
      return await this.c.call('c.fail', data);
    } catch (err) {
      throw new RpcException(err as object);
    }
  }

  /** A streamed answer whose values each come from a call to the leaf, made as the stream runs. */
  @MessagePattern('b.stream')
  stream(@Payload() data: Work & { count: number }, @Ctx() ctx: MsRpcContext): Observable<unknown> {
    this.probe.start(data.id, ctx);
    return interval(5).pipe(
      take(data.count),
      concatMap((i) => defer(() => from(this.c.call('c.work', { id: `${data.id}-${i}` })))),
      map((answer) => (answer as { id: string }).id),
    );
  }

  /** Emits an event to the leaf, then answers. */
  @MessagePattern('b.emit')
  async emit(@Payload() data: Work, @Ctx() ctx: MsRpcContext) {
    this.probe.start(data.id, ctx);
    await lastValueFrom(this.c.emit('c.note', { from: data.id }), { defaultValue: undefined });
    return 'emitted';
  }
}

@Module({})
class ChainModule {
  static of(controller: 'leaf' | 'middle', probe: ChainProbe, c?: MsRpcClient): DynamicModule {
    return {
      module: ChainModule,
      controllers: [controller === 'leaf' ? LeafController : MiddleController],
      providers: [
        { provide: PROBE, useValue: probe },
        ...(c ? [{ provide: C_CLIENT, useValue: c }] : []),
      ],
    };
  }
}

export interface ChainService {
  readonly app: INestMicroservice;
  readonly server: MsRpcServer;
  readonly probe: ChainProbe;
  readonly port: number;
}

export interface Chain {
  readonly b: ChainService;
  readonly c: ChainService;
  /** B's client of C. */
  readonly bToC: MsRpcClient;
  /** A new client of B (A), closed with the chain. */
  clientOfB(options?: Partial<MsRpcClientOptions>): MsRpcClient;
  /** A new client of C, closed with the chain. */
  clientOfC(options?: Partial<MsRpcClientOptions>): MsRpcClient;
  close(): Promise<void>;
}

async function serve(
  controller: 'leaf' | 'middle',
  service: string,
  options: Partial<MsRpcServerOptions>,
  c?: MsRpcClient,
): Promise<ChainService> {
  const probe = new ChainProbe();
  const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300, service, ...options });
  (server as unknown as { logger: unknown }).logger = recordingLogger();
  const app = await NestFactory.createMicroservice(ChainModule.of(controller, probe, c), { strategy: server, logger: false });
  await app.listen();
  return { app, server, probe, port: server.port };
}

/**
 * A → B → C with real servers on loopback: C is a leaf service, B a service whose handlers call C
 * through an MsRpcClient of their own (as an application would inject one), A whatever client the
 * test makes with {@link Chain.clientOfB}.
 */
export async function startChain(
  options: { server?: Partial<MsRpcServerOptions>; bToC?: Partial<MsRpcClientOptions> } = {},
): Promise<Chain> {
  const c = await serve('leaf', 'c', options.server ?? {});
  const bToC = new MsRpcClient({
    service: 'c',
    providers: [`127.0.0.1:${c.port}`],
    logger: recordingLogger(),
    timeout: 3000,
    ...RELAXED_HEARTBEAT,
    ...options.bToC,
  });
  const b = await serve('middle', 'b', options.server ?? {}, bToC);
  const clients: MsRpcClient[] = [];
  const clientOf = (service: ChainService, name: string, clientOptions: Partial<MsRpcClientOptions>) => {
    const client = new MsRpcClient({
      service: name,
      providers: [`127.0.0.1:${service.port}`],
      logger: recordingLogger(),
      ...RELAXED_HEARTBEAT,
      ...clientOptions,
    });
    clients.push(client);
    return client;
  };
  return {
    b,
    c,
    bToC,
    clientOfB: (clientOptions = {}) => clientOf(b, 'b', clientOptions),
    clientOfC: (clientOptions = {}) => clientOf(c, 'c', clientOptions),
    async close() {
      for (const client of clients) await client.close();
      await b.app.close();
      await bToC.close();
      await c.app.close();
    },
  };
}
