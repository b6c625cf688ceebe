import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CanActivate,
  CallHandler,
  Controller,
  ExecutionContext,
  Injectable,
  Module,
  NestInterceptor,
  UseGuards,
  UseInterceptors,
  type INestMicroservice,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessageHandler, MessagePattern, Payload, RpcException, WritePacket } from '@nestjs/microservices';
import { EMPTY, finalize, interval, map, of, ReplaySubject, take, takeUntil, throwError, type Observable } from 'rxjs';
import { MsRpcClient, MsRpcContext, MsRpcServer } from '../../../lib/index.js';
import { MessageType } from '../../../lib/protocol/frame-header.js';
import type { RequestMessage } from '../../../lib/protocol/message.js';
import type { InFlightRequest, ServerConnection } from '../../../lib/server/server-connection.js';

/**
 * The server answers plain handler results without Nest's per-request rxjs pipeline. This suite
 * checks that shortcut against Nest itself: every scenario runs against MsRpcServer and against a
 * reference server that dispatches through Nest's own `handleRequest` (the code the shortcut
 * replaced), and the client-visible outcomes and processing-hook calls must be identical.
 */

const als = new AsyncLocalStorage<string>();

@Injectable()
class Double implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((v) => (v as number) * 2));
  }
}

@Injectable()
class Deny implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What streaming handlers did on the server side. */
@Injectable()
class StreamProbe {
  readonly emitted = new Map<string, number>();
  readonly finalized = new Set<string>();
}

@Controller()
class ScenarioController {
  constructor(private readonly probe: StreamProbe) {}

  /** Endless; with `startDelay` the stream only exists after the handler awaited. */
  @MessagePattern('ticker')
  async ticker(@Payload() d: { id: string; startDelay: number }): Promise<Observable<number>> {
    if (d.startDelay) await sleep(d.startDelay);
    return interval(2).pipe(
      map((i) => {
        this.probe.emitted.set(d.id, (this.probe.emitted.get(d.id) ?? 0) + 1);
        return i;
      }),
      finalize(() => this.probe.finalized.add(d.id)),
    );
  }

  @MessagePattern('sync')
  sync(@Payload() data: unknown) {
    return data;
  }

  @MessagePattern('async')
  async asyncValue(@Payload() data: unknown) {
    await new Promise((r) => setTimeout(r, 1));
    return data;
  }

  @MessagePattern('undefined')
  nothing() {
    return undefined;
  }

  @MessagePattern('null-value')
  nullValue() {
    return null;
  }

  @MessagePattern('of')
  ofValues() {
    return of(1, 2, 3);
  }

  @MessagePattern('interval')
  ticks() {
    return interval(1).pipe(take(3));
  }

  @MessagePattern('empty')
  empty() {
    return EMPTY;
  }

  @MessagePattern('promise-of')
  async promiseOf() {
    return of('a', 'b');
  }

  @MessagePattern('rpc-exception')
  rpcException() {
    throw new RpcException({ code: 'E_X', message: 'x' });
  }

  @MessagePattern('rpc-exception-string')
  rpcExceptionString() {
    throw new RpcException('plain message');
  }

  @MessagePattern('plain-error')
  plainError() {
    throw new Error('internal detail');
  }

  @MessagePattern('async-error')
  async asyncError() {
    await new Promise((r) => setTimeout(r, 1));
    throw new RpcException('later');
  }

  @MessagePattern('stream-error')
  streamError() {
    return throwError(() => new RpcException({ code: 'E_STREAM' }));
  }

  @MessagePattern('intercepted')
  @UseInterceptors(Double)
  intercepted(@Payload() n: number) {
    return n + 1;
  }

  @MessagePattern('guarded')
  @UseGuards(Deny)
  guarded() {
    return 'never';
  }

  @MessagePattern('als')
  als() {
    return als.getStore() ?? 'no store';
  }
}

@Module({ controllers: [ScenarioController], providers: [Double, Deny, StreamProbe] })
class ScenarioModule {}

/** Dispatches through Nest's `handleRequest`, exactly as MsRpcServer did before its shortcut. */
class NestReferenceServer extends MsRpcServer {
  override onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void {
    const handler = this.getHandlerByPattern(message.pattern);
    if (!handler || handler.isEventHandler) return super.onRequest(connection, message, request);
    const context = new MsRpcContext([connection.remoteAddress, message.pattern, request.requestId, message.metadata], request);
    const cancelled = new ReplaySubject<void>(1);
    request.onCancel = () => cancelled.next();
    const handled: unknown = this.handleRequest(
      context,
      async () =>
        this.transformToObservable(await (handler as MessageHandler)(message.data, context)).pipe(
          takeUntil(cancelled),
          // The admission slot is held until the handler's stream is done.
          finalize(() => request.finished()),
        ),
      (packet: WritePacket) => this['handlers'].writePacket(connection, request, packet),
    );
    if (handled instanceof Promise) {
      handled.catch((err: unknown) => {
        connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      });
    }
  }
}

type Outcome = { values: unknown[]; error?: unknown; completed?: boolean };

function call(client: MsRpcClient, pattern: string, data: unknown): Promise<Outcome> {
  return new Promise((resolve) => {
    const values: unknown[] = [];
    client.send(pattern, data).subscribe({
      next: (v) => values.push(v),
      error: (error: unknown) => resolve({ values, error }),
      complete: () => resolve({ values, completed: true }),
    });
  });
}

interface Served {
  app: INestMicroservice;
  server: MsRpcServer;
  client: MsRpcClient;
  hookLog: string[];
}

type HookMode = 'default' | 'end-only' | 'custom-start';

async function serve(ServerClass: typeof MsRpcServer, mode: HookMode): Promise<Served> {
  const server = new ServerClass({ host: '127.0.0.1', port: 0, shutdownTimeout: 200 });
  const hookLog: string[] = [];
  const app = await NestFactory.createMicroservice(ScenarioModule, { strategy: server, logger: false });
  if (mode !== 'default') {
    server.setOnProcessingEndHook((_t, ctx) => hookLog.push(`end ${(ctx as MsRpcContext).getPattern()}`));
  }
  if (mode === 'custom-start') {
    server.setOnProcessingStartHook((_t, ctx, done) => {
      hookLog.push(`start ${(ctx as MsRpcContext).getPattern()}`);
      return als.run('in hook', () => done());
    });
  }
  // Handlers registered without Nest's proxy: they may throw synchronously or reject.
  server.addHandler('raw-throw', (() => {
    throw new Error('raw sync failure');
  }) as unknown as MessageHandler);
  server.addHandler('raw-reject', (async () => {
    throw { status: 'error', message: 'raw rejection' };
  }) as MessageHandler);
  server.addHandler('raw-value', ((n: number) => n * 3) as unknown as MessageHandler);
  await app.listen();
  const client = new MsRpcClient({ providers: [`127.0.0.1:${server.port}`], logger: { log() {}, warn() {}, error() {} } });
  await client.connect();
  return { app, server, client, hookLog };
}

const SCENARIOS: Array<[string, unknown]> = [
  ['sync', { a: 1 }],
  ['sync', 'text'],
  ['async', [1, 2]],
  ['undefined', {}],
  ['null-value', {}],
  ['of', {}],
  ['interval', {}],
  ['empty', {}],
  ['promise-of', {}],
  ['rpc-exception', {}],
  ['rpc-exception-string', {}],
  ['plain-error', {}],
  ['async-error', {}],
  ['stream-error', {}],
  ['intercepted', 20],
  ['guarded', {}],
  ['als', {}],
  ['raw-throw', {}],
  ['raw-reject', {}],
  ['raw-value', 5],
  ['no-such-pattern', {}],
];

describe.each<HookMode>(['default', 'end-only', 'custom-start'])('server dispatch matches Nest handleRequest (%s hooks)', (mode) => {
  let fast: Served;
  let reference: Served;

  beforeAll(async () => {
    fast = await serve(MsRpcServer, mode);
    reference = await serve(NestReferenceServer, mode);
  });

  afterAll(async () => {
    for (const s of [fast, reference]) {
      await s?.client.close();
      await s?.app.close();
    }
  });

  it.each(SCENARIOS)('%s', async (pattern, data) => {
    const [got, expected] = [await call(fast.client, pattern, data), await call(reference.client, pattern, data)];
    expect(got).toEqual(expected);
    // The end hook runs once the answer is settled; give a stream's finalize a turn to run.
    await new Promise((r) => setTimeout(r, 5));
    expect(fast.hookLog).toEqual(reference.hookLog);
    if (mode !== 'default' && pattern !== 'no-such-pattern') {
      expect(fast.hookLog.filter((e) => e === `end ${pattern}`)).toHaveLength(1);
    }
    fast.hookLog.length = 0;
    reference.hookLog.length = 0;
  });

  it.each([
    ['mid-stream', 0],
    ['before the handler produced its stream', 60],
  ])('a cancel %s stops the stream and ends processing once', async (_what, startDelay) => {
    const id = `cancel-${mode}-${startDelay}`;
    for (const s of [fast, reference]) {
      const sub = s.client.send('ticker', { id, startDelay }).subscribe({ error: () => undefined });
      await sleep(20);
      sub.unsubscribe();
    }
    await sleep(startDelay + 50);
    for (const s of [fast, reference]) {
      const probe = s.app.get(StreamProbe);
      const emitted = probe.emitted.get(id) ?? 0;
      if (startDelay) expect(emitted).toBe(0);
      else expect(probe.finalized.has(id)).toBe(true);
      await sleep(20);
      expect(probe.emitted.get(id) ?? 0).toBe(emitted);
    }
    expect(fast.hookLog).toEqual(reference.hookLog);
    if (mode !== 'default') expect(fast.hookLog.filter((e) => e === 'end ticker')).toHaveLength(1);
    fast.hookLog.length = 0;
    reference.hookLog.length = 0;
  });

  it('many concurrent calls get their own answers', async () => {
    const calls = Array.from({ length: 200 }, (_, i) => call(fast.client, i % 2 ? 'sync' : 'async', { i }));
    const outcomes = await Promise.all(calls);
    outcomes.forEach((o, i) => expect(o).toEqual({ values: [{ i }], completed: true }));
  });
});
