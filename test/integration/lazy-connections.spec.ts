import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { MessageHandler } from '@nestjs/microservices';
import { MsRpcClient, MsRpcServer, NoProviderError, StaticRegistry, type Registry } from '../../lib/index.js';
import type { Registration } from '../../lib/registry/registration.js';
import type { StaticAddress } from '../../lib/registry/static-registry.js';
import { recordingLogger, sleep, timed, waitUntil } from '../support/loopback-utils.js';

/**
 * Issue 19, on loopback: 50 real providers in 5 groups of 10, each group serving its own patterns,
 * registered with the metadata MsRpcServer publishes. A client connects only to the providers
 * serving what it calls (docs/lazy-connections.md).
 */

const GROUPS = 5;
const PER_GROUP = 10;

/**
 * Where the providers register: it keeps every registration it was given and hands the list to
 * the client's registry. Deregistration is ignored, as when providers are killed.
 */
class Registrations implements Registry {
  readonly kind = 'test';
  readonly identity = 'test://registrations';
  readonly all: Registration[] = [];
  constructor(private readonly publish: (regs: readonly Registration[]) => void) {}
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async getInstances(): Promise<never[]> {
    return [];
  }
  async isReachable(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
  async register(reg: Registration): Promise<void> {
    this.all.push(reg);
    this.publish(this.all);
  }
  async deregister(): Promise<void> {}
}

interface Provider {
  readonly index: number;
  readonly group: number;
  readonly server: MsRpcServer;
  readonly address: string;
  served: number;
}

describe('lazy connections with 50 real providers', () => {
  const consumer = new StaticRegistry([{ host: '127.0.0.1', port: 1 }]);
  const registrations = new Registrations((regs) =>
    consumer.setInstances(regs.map((r): StaticAddress => ({ host: r.host, port: r.port, metadata: r.metadata }))),
  );
  const providers: Provider[] = [];
  const clients: MsRpcClient[] = [];

  async function startProvider(index: number, group: number): Promise<Provider> {
    const server = new MsRpcServer({
      host: '127.0.0.1',
      port: 0,
      service: 'lazy',
      registry: registrations,
    });
    const provider: Provider = { index, group, server, address: '', served: 0 };
    for (const method of ['a', 'b', 'c']) {
      server.addHandler(`g${group}.${method}`, (async () => {
        provider.served++;
        return index;
      }) as MessageHandler);
    }
    server.addHandler(`g${group}.done`, (async () => undefined) as MessageHandler, true);
    await new Promise<void>((resolve, reject) => server.listen((err?: unknown) => (err ? reject(err as Error) : resolve())));
    Object.assign(provider, { address: `127.0.0.1:${server.port}` });
    providers.push(provider);
    return provider;
  }

  function client(): MsRpcClient {
    const c = new MsRpcClient({
      service: 'lazy',
      registry: consumer,
      snapshotDir: false,
      logger: recordingLogger(),
      balancer: { strategy: 'round-robin', warmup: false },
      timeout: 3000,
    });
    clients.push(c);
    return c;
  }

  const connected = () => providers.filter((p) => p.server.connectionCount > 0);
  const ofGroup = (g: number) => providers.filter((p) => p.group === g);

  beforeAll(async () => {
    // The providers log through Nest's Logger (no app here to pass a logger to).
    Logger.overrideLogger(false);
    for (let i = 0; i < GROUPS * PER_GROUP; i++) await startProvider(i, i % GROUPS);
    await waitUntil(() => registrations.all.length === GROUPS * PER_GROUP, 5000, 'every provider registered');
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await Promise.all(providers.map((p) => p.server.close()));
  });

  it('a client calling 3 patterns of one group connects those 10 providers only, and spreads the calls over them', async () => {
    const c = client();
    for (let round = 0; round < 3; round++) {
      for (const method of ['a', 'b', 'c']) {
        for (let i = 0; i < PER_GROUP; i++) await c.call(`g0.${method}`, i);
      }
    }
    await sleep(100);
    expect(c.knownProviderCount()).toBe(GROUPS * PER_GROUP);
    expect(connected().map((p) => p.index)).toEqual(ofGroup(0).map((p) => p.index));
    // Round-robin over the ten, give or take the first calls, made while only some were ready.
    const served = ofGroup(0).map((p) => p.served);
    expect(served.reduce((a, b) => a + b, 0)).toBe(90);
    expect(Math.min(...served)).toBeGreaterThanOrEqual(7);
    console.info(
      `[lazy] ${c.knownProviderCount()} providers known, 90 calls on 3 patterns of one group: ` +
        `${connected().length} connected (${providers.reduce((n, p) => n + p.server.connectionCount, 0)} server-side connections)`,
    );
  });

  it('a provider joining a group in use is connected at once; one joining another group is not', async () => {
    const c = clients[0];
    const inUse = await startProvider(100, 0);
    const other = await startProvider(101, 3);
    await waitUntil(() => inUse.server.connectionCount === 1, 3000, 'the new group-0 provider connected');
    await sleep(200);
    expect(other.server.connectionCount).toBe(0);
    expect(c.knownProviderCount()).toBe(GROUPS * PER_GROUP + 2);
  });

  it('fails fast when every provider of the called pattern is down, trying each once, and connects no other', async () => {
    const c = clients[0];
    const down = ofGroup(1);
    await Promise.all(down.map((p) => p.server.close()));
    const result = await timed(c.call('g1.a', 0));
    expect(result.error).toBeInstanceOf(NoProviderError);
    const failures = (result.error as NoProviderError).failures.map((f) => f.address).sort();
    expect(failures).toEqual(down.map((p) => p.address).sort());
    expect(result.ms).toBeLessThan(1000);
    expect(ofGroup(2).every((p) => p.server.connectionCount === 0)).toBe(true);
    console.info(`[lazy] all ${down.length} providers of a pattern down: the call failed after ${result.ms.toFixed(0)} ms, naming each`);
  });

  it('connect() connects every known provider that is up', async () => {
    const c = client();
    await c.connect();
    const up = providers.filter((p) => p.group !== 1);
    await waitUntil(() => c.readyProviderCount() === up.length, 5000, 'every provider ready');
    expect(up.every((p) => p.server.connectionCount >= 1)).toBe(true);
  });
});
