import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { firstValueFrom, interval, lastValueFrom, map, take, toArray } from 'rxjs';
import { MsRpcClient, MsRpcContext, MsRpcServer } from '../../lib/index.js';

@Injectable()
class EventLog {
  readonly seen: Array<{ data: unknown; pattern: string; requestId: number; metadata: Record<string, string> | undefined }> = [];
  waiters: Array<() => void> = [];
  push(entry: EventLog['seen'][number]) {
    this.seen.push(entry);
    for (const w of this.waiters.splice(0)) w();
  }
  next(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
}

@Controller()
class MathController {
  constructor(private readonly log: EventLog) {}

  @MessagePattern('sum')
  sum(@Payload() numbers: number[]) {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern({ cmd: 'async-upper' })
  async upper(@Payload() text: string) {
    await new Promise((r) => setTimeout(r, 5));
    return text.toUpperCase();
  }

  @MessagePattern('count')
  count(@Payload() n: number) {
    return interval(1).pipe(
      take(n),
      map((i) => i + 1),
    );
  }

  @MessagePattern('whoami')
  whoami(@Payload() _data: unknown, @Ctx() ctx: MsRpcContext) {
    return { pattern: ctx.getPattern(), requestId: ctx.getRequestId(), remote: ctx.getRemoteAddress(), metadata: ctx.getMetadata() };
  }

  @MessagePattern('rpc-error')
  rpcError() {
    throw new RpcException({ code: 'E_DENIED', message: 'denied' });
  }

  @MessagePattern('plain-error')
  plainError() {
    throw new Error('secret internals');
  }

  @EventPattern<string>('audit')
  audit(@Payload() data: unknown, @Ctx() ctx: MsRpcContext) {
    this.log.push({ data, pattern: ctx.getPattern(), requestId: ctx.getRequestId(), metadata: ctx.getMetadata() });
  }
}

@Module({ controllers: [MathController], providers: [EventLog] })
class ProviderModule {}

describe('Nest end-to-end (real Nest microservice, direct mode)', () => {
  let app: INestMicroservice;
  let server: MsRpcServer;
  let client: MsRpcClient;

  beforeAll(async () => {
    server = new MsRpcServer({ host: '127.0.0.1', port: 0 });
    app = await NestFactory.createMicroservice(ProviderModule, { strategy: server, logger: false });
    await app.listen();
    client = new MsRpcClient({ providers: [`127.0.0.1:${server.port}`], logger: { log() {}, warn() {}, error() {} } });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  it('answers sync and async handlers, with string and object patterns', async () => {
    await expect(firstValueFrom(client.send('sum', [1, 2, 3]))).resolves.toBe(6);
    await expect(firstValueFrom(client.send({ cmd: 'async-upper' }, 'abc'))).resolves.toBe('ABC');
  });

  it('streams every value of an Observable handler, then completes', async () => {
    await expect(lastValueFrom(client.send<number>('count', 5).pipe(toArray()))).resolves.toEqual([1, 2, 3, 4, 5]);
  });

  it('gives handlers an MsRpcContext with pattern, request id, remote address and metadata', async () => {
    client.setOnDispatchHook((packet) => {
      packet.metadata = { traceId: 't-1' };
    });
    try {
      const info = await firstValueFrom(client.send<{ pattern: string; requestId: number; remote: string; metadata: object }>('whoami', {}));
      expect(info.pattern).toBe('whoami');
      expect(info.requestId).toBeGreaterThan(0);
      expect(info.remote).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(info.metadata).toEqual({ traceId: 't-1' });
    } finally {
      client.setOnDispatchHook(() => undefined);
    }
  });

  it('maps RpcException and thrown errors the way Nest transports do', async () => {
    await expect(firstValueFrom(client.send('rpc-error', {}))).rejects.toEqual({ code: 'E_DENIED', message: 'denied' });
    await expect(firstValueFrom(client.send('plain-error', {}))).rejects.toEqual({
      status: 'error',
      message: 'Internal server error',
    });
  });

  it('answers an unknown pattern with a clear error naming it', async () => {
    await expect(firstValueFrom(client.send('nope', {}))).rejects.toMatchObject({
      code: 'ERR_NO_HANDLER',
      message: expect.stringContaining('There is no matching message handler defined in the remote service. Pattern: "nope"'),
    });
  });

  it('delivers emit() to @EventPattern handlers with context', async () => {
    const log = app.get(EventLog);
    const arrived = log.next();
    await lastValueFrom(client.emit('audit', { user: 'u1' }), { defaultValue: undefined });
    await arrived;
    // As Nest's TcpContext: no metadata sent, none on the context (undefined, not {}).
    expect(log.seen.at(-1)).toStrictEqual({ data: { user: 'u1' }, pattern: 'audit', requestId: 0, metadata: undefined });
  });
});
