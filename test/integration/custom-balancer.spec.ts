import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  InvalidOptionsError,
  MsRpcClient,
  MsRpcModule,
  type Balancer,
  type BalancerFactory,
  type Candidate,
  type PickContext,
} from '../../lib/index.js';
import { recordingLogger, waitUntil } from '../support/loopback-utils.js';
import { FAST_LIVENESS } from '../support/test-client.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/** Sends every call to the provider on `port` while it is a candidate; records what it was asked. */
class PinnedBalancer implements Balancer {
  readonly name = 'pinned';
  readonly seen: Array<{ ports: number[]; pattern?: string }> = [];
  constructor(private readonly port: () => number) {}
  pick<C extends Candidate>(candidates: readonly C[], context?: PickContext): C | undefined {
    this.seen.push({ ports: candidates.map((c) => c.instance.port).sort(), pattern: context?.pattern });
    return candidates.find((c) => c.instance.port === this.port()) ?? candidates[0];
  }
}

/**
 * Issue 17: a custom balancer is reachable from a client (and from the module): `balancer.strategy`
 * takes a factory `(options, deps) => Balancer`, called once per client, or a Balancer instance.
 */
describe('a custom balancer routes real calls', () => {
  let a: TestProvider;
  let b: TestProvider;
  const clients: MsRpcClient[] = [];
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestProvider(), startTestProvider()]);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  const client = (strategy: unknown, service = 'pinned') => {
    const c = new MsRpcClient({
      service,
      providers: [a.address, b.address],
      logger: recordingLogger(),
      ...FAST_LIVENESS,
      balancer: { strategy: strategy as Balancer, warmup: false },
    });
    clients.push(c);
    return c;
  };

  /** Calls `delay` with fresh ids; returns the ids each provider's handler started. */
  async function callsLandOn(c: MsRpcClient, tag: string, n: number): Promise<{ a: number; b: number }> {
    await c.connect();
    await waitUntil(() => c.readyProviderCount() === 2, 3000, 'both providers ready');
    for (let i = 0; i < n; i++) {
      expect(await c.call('delay', { ms: 0, value: i, id: `${tag}-${i}` })).toBe(i);
    }
    const count = (p: TestProvider) => [...p.probe.started].filter((id) => id.startsWith(`${tag}-`)).length;
    return { a: count(a), b: count(b) };
  }

  it('a factory: called once per client with the client clock and random, its balancer picks every call', async () => {
    const made: Array<{ balancer: PinnedBalancer; deps: object; strategy: unknown }> = [];
    const factory: BalancerFactory = (options, deps) => {
      const balancer = new PinnedBalancer(() => b.port);
      made.push({ balancer, deps, strategy: options.strategy });
      expect(typeof deps.clock.now).toBe('function');
      expect(deps.random()).toBeGreaterThanOrEqual(0);
      return balancer;
    };
    const c = client(factory);
    expect(made).toHaveLength(1);
    expect(made[0]!.strategy).toBe(factory);

    expect(await callsLandOn(c, 'factory', 10)).toEqual({ a: 0, b: 10 });
    const asked = made[0]!.balancer.seen.filter((s) => s.pattern === 'delay');
    expect(asked.length).toBeGreaterThanOrEqual(10);
    expect(asked.at(-1)!.ports).toEqual([a.port, b.port].sort());
  });

  it('a Balancer instance is used as is', async () => {
    const balancer = new PinnedBalancer(() => a.port);
    expect(await callsLandOn(client(balancer), 'instance', 6)).toEqual({ a: 6, b: 0 });
    expect(balancer.seen.length).toBeGreaterThanOrEqual(6);
  });

  it('through MsRpcModule clientDefaults: each registered client gets its own balancer from the factory', async () => {
    const made: PinnedBalancer[] = [];
    const factory: BalancerFactory = () => {
      const balancer = new PinnedBalancer(() => b.port);
      made.push(balancer);
      return balancer;
    };
    @Module({
      imports: [
        MsRpcModule.forRoot({
          channel: { heartbeatInterval: 100, idleHeartbeatInterval: 300, heartbeatTimeout: 300 },
          clientDefaults: { balancer: { strategy: factory, warmup: false } },
          logger: recordingLogger(),
        }),
        MsRpcModule.registerClients([
          { name: 'ONE', service: 'one', providers: [a.address, b.address] },
          { name: 'TWO', service: 'two', providers: [a.address, b.address] },
        ]),
      ],
    })
    class AppModule {}
    app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    const one = app.get<MsRpcClient>('ONE');
    const two = app.get<MsRpcClient>('TWO');
    expect(made).toHaveLength(2);
    expect(made[0]).not.toBe(made[1]);
    expect(await callsLandOn(one, 'module-one', 4)).toEqual({ a: 0, b: 4 });
    expect(await callsLandOn(two, 'module-two', 4)).toEqual({ a: 0, b: 4 });
    expect(made.every((m) => m.seen.some((s) => s.pattern === 'delay'))).toBe(true);
  });

  it('a factory that returns no Balancer, or throws, fails the construction naming the field', () => {
    expect(() => client(() => ({ pick: 'no' }))).toThrow(InvalidOptionsError);
    expect(() => client(() => ({ pick: 'no' }))).toThrow(/"MsRpcClient\.balancer\.strategy": the balancer factory returned no Balancer/);
    expect(() =>
      client(() => {
        throw new Error('no config');
      }),
    ).toThrow(/"MsRpcClient\.balancer\.strategy": the balancer factory threw: no config/);
  });
});
