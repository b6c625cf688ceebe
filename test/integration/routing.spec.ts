import type { Server as NetServer, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Inject, Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import {
  ConnectionClosedError,
  MsRpcClient,
  MsRpcRecordBuilder,
  MsRpcServer,
  NoHandlerError,
  type MsRpcClientOptions,
  type ProviderAddress,
} from '../../lib/index.js';
import { recordingLogger, sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { FAST_LIVENESS } from '../support/test-client.js';

/** What one provider saw: handler starts per call id and per pattern; a delay added to `work`. */
class ProviderState {
  readonly starts = new Map<string, number>();
  readonly byPattern = new Map<string, number>();
  extraDelayMs = 0;
  count(pattern: string, id?: string): void {
    this.byPattern.set(pattern, (this.byPattern.get(pattern) ?? 0) + 1);
    if (id !== undefined) this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
  }
}

@Controller()
class RoutingController {
  constructor(@Inject(ProviderState) private readonly state: ProviderState) {}

  @MessagePattern('work')
  async work(@Payload() data: { id: string; ms: number }) {
    this.state.count('work', data.id);
    await sleep(data.ms + this.state.extraDelayMs);
    return data.id;
  }

  /** Same as work, but the tests never declare it idempotent. */
  @MessagePattern('once')
  async once(@Payload() data: { id: string; ms: number }) {
    this.state.count('once', data.id);
    await sleep(data.ms);
    return data.id;
  }

  @MessagePattern('other')
  other(@Payload() data: { id: string }) {
    this.state.count('other', data.id);
    return data.id;
  }

  @MessagePattern('fail')
  fail(@Payload() data: { id: string }) {
    this.state.count('fail', data.id);
    throw new RpcException({ code: 'ERR_HANDLER', message: 'handler refused' });
  }

  @MessagePattern('busy')
  busy(@Payload() data: { id: string }) {
    this.state.count('busy', data.id);
    throw new RpcException({ code: 'ERR_SERVER_BUSY', message: 'try elsewhere' });
  }
}

@Module({})
class RoutingModule {
  static with(state: ProviderState): DynamicModule {
    return { module: RoutingModule, controllers: [RoutingController], providers: [{ provide: ProviderState, useValue: state }] };
  }
}

interface Provider {
  readonly port: number;
  readonly address: string;
  readonly state: ProviderState;
  destroySockets(): void;
  close(): Promise<void>;
}

async function startProvider(): Promise<Provider> {
  const state = new ProviderState();
  const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300 });
  const app: INestMicroservice = await NestFactory.createMicroservice(RoutingModule.with(state), { strategy: server, logger: false });
  await app.listen();
  const sockets = new Set<Socket>();
  server.unwrap<NetServer>().on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    port: server.port,
    address: `127.0.0.1:${server.port}`,
    state,
    destroySockets: () => sockets.forEach((s) => s.destroy()),
    close: () => app.close(),
  };
}

/** Runs `batch` until `done()` holds (waitUntil polls synchronously only). */
async function batchesUntil(batch: () => Promise<unknown>, done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await batch();
  }
}

const serves = (p: Provider, patterns?: string[]): ProviderAddress => ({
  host: '127.0.0.1',
  port: p.port,
  ...(patterns ? { metadata: { patterns: JSON.stringify(patterns) } } : {}),
});

describe('routing: pattern-aware picks, failover, retry budget, outlier ejection (real providers on loopback)', () => {
  let a: Provider;
  let b: Provider;
  const clients: MsRpcClient[] = [];
  const client = (providers: ProviderAddress[], options: Partial<MsRpcClientOptions> = {}) => {
    const c = new MsRpcClient({ providers, logger: recordingLogger(), ...FAST_LIVENESS, balancer: { strategy: 'round-robin' }, ...options });
    clients.push(c);
    return c;
  };
  const call = <T = string>(c: MsRpcClient, pattern: string, data: unknown) => firstValueFrom(c.send<T>(pattern, data));

  beforeAll(async () => {
    [a, b] = await Promise.all([startProvider(), startProvider()]);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const p of [a, b]) p.state.extraDelayMs = 0;
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('sends each pattern only to the providers that declare it; undeclared providers serve everything', async () => {
    const c = client([serves(a, ['work']), serves(b, ['other'])]);
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 3000, 'both providers ready');
    await Promise.all(Array.from({ length: 20 }, (_, i) => call(c, 'work', { id: `pw-${i}`, ms: 0 })));
    await Promise.all(Array.from({ length: 20 }, (_, i) => call(c, 'other', { id: `po-${i}` })));
    for (let i = 0; i < 20; i++) {
      expect([a.state.starts.get(`pw-${i}`), b.state.starts.get(`pw-${i}`)]).toEqual([1, undefined]);
      expect([a.state.starts.get(`po-${i}`), b.state.starts.get(`po-${i}`)]).toEqual([undefined, 1]);
    }
    // A provider without `patterns` metadata (static list, other implementation) may get anything.
    const mixed = client([serves(a, ['work']), serves(b)]);
    await mixed.connect();
    await waitUntil(() => mixed.readyProviderCount() === 2, 3000, 'both providers ready');
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(mixed, 'other', { id: `pm-${i}` })));
    for (let i = 0; i < 10; i++) expect(b.state.starts.get(`pm-${i}`)).toBe(1);
  });

  it('fails AT ONCE with NoHandlerError naming the pattern when no known provider serves it', async () => {
    const c = client([serves(a, ['work']), serves(b, ['other'])], { timeout: 5000 });
    await c.connect();
    const result = await timed(call(c, 'once', { id: 'nobody', ms: 0 }));
    expect(result.error).toBeInstanceOf(NoHandlerError);
    expect(result.error).toMatchObject({ code: 'ERR_NO_HANDLER', pattern: 'once' });
    expect((result.error as Error).message).toContain('"once"');
    expect(result.ms).toBeLessThan(200);
    expect(a.state.starts.has('nobody') || b.state.starts.has('nobody')).toBe(false);
  });

  it('failover: killing one of two providers mid-load, idempotent calls all succeed (never retried on the failed one), the others fail typed', async () => {
    const c = client([serves(a), serves(b)], {
      timeout: 5000,
      retries: 2,
      idempotentPatterns: ['work'],
      // Half of 80 in-flight calls fail at once: more than the default budget (20 % + 10/s) lets through.
      retryBudget: { ratio: 1 },
    });
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 3000, 'both providers ready');
    const idem = Array.from({ length: 60 }, (_, i) => timed(call(c, 'work', { id: `fi-${i}`, ms: 300 })));
    const plain = Array.from({ length: 20 }, (_, i) => timed(call(c, 'once', { id: `fn-${i}`, ms: 300 })));
    await waitUntil(() => a.state.byPattern.get('work') && a.state.byPattern.get('once'), 3000, 'calls running on a');
    await sleep(20);
    const startedOnA = new Set(a.state.starts.keys());
    a.destroySockets();
    const idemResults = await Promise.all(idem);
    const plainResults = await Promise.all(plain);

    expect(idemResults.filter((r) => !r.ok)).toEqual([]);
    idemResults.forEach((r, i) => expect(r.value).toBe(`fi-${i}`));
    const retried = [...startedOnA].filter((id) => id.startsWith('fi-'));
    expect(retried.length).toBeGreaterThan(0);
    for (const id of retried) {
      expect(a.state.starts.get(id)).toBe(1); // never went back to the failed provider
      expect(b.state.starts.get(id)).toBe(1); // served by the other one, once
    }
    plainResults.forEach((r, i) => {
      const id = `fn-${i}`;
      if (startedOnA.has(id)) {
        expect(r.error).toBeInstanceOf(ConnectionClosedError);
        expect(b.state.starts.has(id)).toBe(false);
      } else {
        expect(r.value).toBe(id);
      }
    });
    expect(plainResults.some((r) => !r.ok)).toBe(true);
  });

  it('a per-call setRetries(n) makes a call idempotent; a remote handler error is never retried', async () => {
    const c = client([serves(a), serves(b)], { timeout: 2000, retries: 3, idempotentPatterns: ['fail', 'busy'] });
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 3000, 'both providers ready');
    await expect(call(c, 'fail', { id: 'remote-err' })).rejects.toMatchObject({ code: 'ERR_HANDLER' });
    expect((a.state.starts.get('remote-err') ?? 0) + (b.state.starts.get('remote-err') ?? 0)).toBe(1);
    // A server-busy answer is retried, on the other provider first.
    await expect(call(c, 'busy', { id: 'busy-1' })).rejects.toMatchObject({ code: 'ERR_SERVER_BUSY' });
    expect((a.state.starts.get('busy-1') ?? 0) + (b.state.starts.get('busy-1') ?? 0)).toBe(4);
    expect(a.state.starts.get('busy-1')).toBeGreaterThanOrEqual(1);
    expect(b.state.starts.get('busy-1')).toBeGreaterThanOrEqual(1);
    // No idempotent patterns on this client: only a record's setRetries(n) makes a call retry.
    const perCall = client([serves(a), serves(b)], { timeout: 2000 });
    await expect(firstValueFrom(perCall.send('busy', new MsRpcRecordBuilder({ id: 'busy-2' }).setRetries(1).build()))).rejects.toMatchObject({
      code: 'ERR_SERVER_BUSY',
    });
    expect((a.state.starts.get('busy-2') ?? 0) + (b.state.starts.get('busy-2') ?? 0)).toBe(2);
    await expect(call(perCall, 'busy', { id: 'busy-3' })).rejects.toMatchObject({ code: 'ERR_SERVER_BUSY' });
    expect((a.state.starts.get('busy-3') ?? 0) + (b.state.starts.get('busy-3') ?? 0)).toBe(1);
  });

  it('the retry budget caps retries when every call fails', async () => {
    const run = async (options: Partial<MsRpcClientOptions>, prefix: string) => {
      const c = client([serves(a), serves(b)], { timeout: 2000, retries: 3, idempotentPatterns: ['busy'], ...options });
      await c.connect();
      for (let i = 0; i < 20; i++) await expect(call(c, 'busy', { id: `${prefix}-${i}` })).rejects.toMatchObject({ code: 'ERR_SERVER_BUSY' });
      let handled = 0;
      for (let i = 0; i < 20; i++) handled += (a.state.starts.get(`${prefix}-${i}`) ?? 0) + (b.state.starts.get(`${prefix}-${i}`) ?? 0);
      return { handled, window: c.retryBudgetWindow() };
    };
    const unbounded = await run({ retryBudget: { ratio: 10, minRetriesPerSecond: 1000 } }, 'rb-free');
    expect(unbounded.handled).toBe(20 * 4);
    const capped = await run({ retryBudget: { ratio: 0.1, minRetriesPerSecond: 0 } }, 'rb-capped');
    expect(capped.window.calls).toBe(20);
    expect(capped.window.retries).toBeLessThanOrEqual(3);
    expect(capped.handled).toBe(20 + capped.window.retries);
  });

  it('ejects a provider that keeps timing out, then lets it back when it recovers', async () => {
    const c = client([serves(a), serves(b)], {
      timeout: 100,
      outlierDetection: { intervalMs: 200, baseEjectionMs: 600, minRequests: 5, failureThreshold: 0.5 },
    });
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 3000, 'both providers ready');
    a.state.extraDelayMs = 300; // beyond the call timeout
    let n = 0;
    const batch = () => Promise.all(Array.from({ length: 10 }, () => timed(call(c, 'work', { id: `oe-${n++}`, ms: 0 }))));
    await batchesUntil(batch, () => c.ejectedProviders().includes(a.address), 'a ejected');
    expect(c.ejectedProviders()).toEqual([a.address]);
    // While ejected, calls go to b only and succeed.
    const aBefore = a.state.byPattern.get('work') ?? 0;
    const during = await batch();
    expect(during.every((r) => r.ok)).toBe(true);
    expect(a.state.byPattern.get('work') ?? 0).toBe(aBefore);
    // Recovered: after the ejection time it is probed back in and gets calls again.
    a.state.extraDelayMs = 0;
    await batchesUntil(batch, () => (a.state.byPattern.get('work') ?? 0) > aBefore, 'a back in rotation');
    const after = await batch();
    expect(after.every((r) => r.ok)).toBe(true);
    expect(c.ejectedProviders()).toEqual([]);
  });
});
