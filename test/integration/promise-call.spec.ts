import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload, RpcException, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception.js';
import { finalize, interval, lastValueFrom, NEVER, take, toArray } from 'rxjs';
import {
  InvalidOptionsError,
  MsRpcClient,
  MsRpcContext,
  MsRpcRecordBuilder,
  MsRpcServer,
  RpcTimeoutError,
} from '../../lib/index.js';
import { sleep, waitUntil } from '../support/loopback-utils.js';
import { testClient } from '../support/test-client.js';

/** What the handlers saw, so the tests can check the server side of cancellation. */
const finalized = new Set<string>();
const started = new Set<string>();

@Controller()
class CallController {
  @MessagePattern('echo')
  echo(@Payload() data: unknown) {
    return data;
  }

  @MessagePattern({ cmd: 'sum' })
  sum(@Payload() values: number[]) {
    return values.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('nothing')
  nothing() {
    return undefined;
  }

  @MessagePattern('meta')
  meta(@Payload() _data: unknown, @Ctx() ctx: MsRpcContext) {
    return ctx.getMetadata();
  }

  @MessagePattern('fail')
  fail(@Payload() data: { reason: string }) {
    throw new RpcException({ status: 'error', reason: data.reason });
  }

  @MessagePattern('count')
  count(@Payload() n: number) {
    return interval(1).pipe(take(n));
  }

  @MessagePattern('hang')
  hang(@Payload() id: string) {
    started.add(id);
    return NEVER.pipe(finalize(() => finalized.add(id)));
  }
}

@Module({ controllers: [CallController] })
class CallModule {}

/**
 * `client.call()`, the Promise fast path: the same call machinery as `send()` (routing,
 * deadlines, cancels, retries, metrics) without a per-call Observable.
 */
describe('client.call() (Promise fast path, real Nest provider on loopback)', () => {
  let app: INestMicroservice;
  let server: MsRpcServer;
  let client: MsRpcClient;

  beforeAll(async () => {
    server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300 });
    app = await NestFactory.createMicroservice(CallModule, { strategy: server, logger: false });
    await app.listen();
    client = testClient(server.port, { timeout: 2000 }).client;
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await app.close();
  });

  it('resolves with the answer, object patterns included', async () => {
    await expect(client.call('echo', { a: [1, 'two'] })).resolves.toEqual({ a: [1, 'two'] });
    await expect(client.call({ cmd: 'sum' }, [1, 2, 3])).resolves.toBe(6);
  });

  it('resolves undefined when the handler produced no value, and the last value of a stream', async () => {
    await expect(client.call('nothing', 1)).resolves.toBeUndefined();
    await expect(client.call('count', 5)).resolves.toBe(4);
  });

  it('rejects with what the handler threw, as send() does', async () => {
    await expect(client.call('fail', { reason: 'no' })).rejects.toEqual({ status: 'error', reason: 'no' });
  });

  it('rejects null/undefined payloads like send(), and invalid options with InvalidOptionsError', async () => {
    await expect(client.call('echo', null)).rejects.toBeInstanceOf(InvalidMessageException);
    await expect(client.call('echo', 1, { timeout: 0 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(client.call('echo', 1, { tiemout: 5 } as never)).rejects.toThrow(/"MsRpcClient\.call\.tiemout".*unknown option/);
  });

  it('takes per-call options (metadata, timeout) and records, options winning over a record', async () => {
    await expect(client.call('meta', 1, { metadata: { trace: 't1' } })).resolves.toEqual({ trace: 't1' });
    const record = new MsRpcRecordBuilder(1).setMetadata({ a: 'record', b: 'record' }).build();
    await expect(client.call('meta', record, { metadata: { b: 'option' } })).resolves.toEqual({ a: 'record', b: 'option' });
    const t0 = performance.now();
    const err = await client.call('hang', 'timed', { timeout: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTimeoutError);
    expect(performance.now() - t0).toBeLessThan(1500);
    // The deadline sent a Cancel: the handler's stream is torn down on the server.
    await waitUntil(() => finalized.has('timed'), 3000, 'server-side teardown after timeout');
  });

  it('an AbortSignal cancels the call: the promise rejects with its reason and the server stops', async () => {
    const controller = new AbortController();
    const pending = client.call('hang', 'aborted', { signal: controller.signal });
    await waitUntil(() => started.has('aborted'), 3000, 'handler start');
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
    await waitUntil(() => finalized.has('aborted'), 3000, 'server-side teardown after abort');
  });

  it('an already-aborted signal sends nothing', async () => {
    const reason = new Error('too late');
    await expect(client.call('hang', 'never-sent', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await sleep(50);
    expect(started.has('never-sent')).toBe(false);
  });

  it('a signal that never aborts leaves no listener behind once the call settles', async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    for (let i = 0; i < 20; i++) await client.call('echo', i, { signal });
    // Node tracks listeners on AbortSignal: a leak would show here as a count above 0.
    const { EventEmitter } = await import('node:events');
    expect(EventEmitter.getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('send() still goes through publish() and createObserver() when a subclass overrides them', async () => {
    const published: unknown[] = [];
    class Tapped extends MsRpcClient {
      protected override publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
        published.push(packet.pattern);
        return super.publish(packet, callback);
      }
    }
    const tapped = new Tapped({ providers: [`127.0.0.1:${server.port}`] });
    try {
      await expect(lastValueFrom(tapped.send('echo', 7))).resolves.toBe(7);
      await expect(lastValueFrom(tapped.send('count', 3).pipe(toArray()))).resolves.toEqual([0, 1, 2]);
      expect(published).toEqual(['echo', 'count']);
    } finally {
      await tapped.close();
    }
  });

  it('opens a closed client again, as Nest clients do; a call waiting when close() comes fails typed', async () => {
    const { client: c } = testClient(server.port);
    try {
      await c.close();
      await expect(c.call('echo', 1)).resolves.toBe(1);
      const pending = c.call('never-served-slowly', 1, { waitForReady: true }).catch((e: unknown) => e);
      await c.close();
      await expect(pending).resolves.toMatchObject({ code: expect.stringMatching(/^ERR_(CLIENT_CLOSED|CONNECTION_CLOSED|NO_HANDLER)$/) });
    } finally {
      await c.close();
    }
  });
});
