import { afterEach, describe, expect, it } from '@jest/globals';
import { Module, ServiceUnavailableException, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import {
  MS_RPC_HEALTH_OPTIONS,
  MsRpcHealthIndicator,
  MsRpcHealthModule,
  type HealthSource,
  type MsRpcHealthOptions,
} from '../../../lib/health/index.js';
import { resolveHealthOptions } from '../../../lib/health/health-options.js';
import type { Registry } from '../../../lib/registry/registry.js';

class FakeSource implements HealthSource {
  constructor(
    readonly serviceName: string,
    public ready: number,
    public known = ready,
  ) {}
  readyProviderCount(): number {
    return this.ready;
  }
  knownProviderCount(): number {
    return this.known;
  }
}

function fakeRegistry(isReachable: () => Promise<boolean>): Registry {
  const unused = () => Promise.reject(new Error('not used'));
  return {
    kind: 'fake',
    identity: 'fake://',
    register: unused,
    deregister: unused,
    subscribe: unused,
    unsubscribe: unused,
    getInstances: unused,
    isReachable,
    close: () => Promise.resolve(),
  };
}

const reachable = () => fakeRegistry(() => Promise.resolve(true));

describe('MsRpcHealthIndicator with Terminus', () => {
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(options: Partial<MsRpcHealthOptions>) {
    @Module({ imports: [TerminusModule.forRoot({ logger: false }), MsRpcHealthModule.forRoot(options)] })
    class AppModule {}
    app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    const health = app.get(HealthCheckService);
    const indicator = app.get(MsRpcHealthIndicator);
    return { indicator, check: () => health.check([() => indicator.isHealthy()]) };
  }

  /** The 503 Terminus throws carries the full result as its response. */
  async function failing(check: () => Promise<HealthCheckResult>): Promise<HealthCheckResult> {
    const error = await check().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    return (error as ServiceUnavailableException).getResponse() as HealthCheckResult;
  }

  it('is up with a reachable registry and ready providers', async () => {
    const { check } = await start({
      registry: reachable(),
      sources: [new FakeSource('users', 2, 3), { source: new FakeSource('audit', 1), required: false }],
    });
    const result = await check();
    expect(result.status).toBe('ok');
    expect(result.details['ms-rpc']).toEqual({
      status: 'up',
      registry: { kind: 'fake', reachable: true, required: false, responseTimeMs: expect.any(Number) },
      services: {
        users: { ready: 2, known: 3, required: true },
        audit: { ready: 1, known: 1, required: false },
      },
    });
  });

  it('is down (503) when a required service has no ready provider', async () => {
    const users = new FakeSource('users', 0, 2);
    const { check } = await start({ registry: reachable(), sources: [users] });
    const result = await failing(check);
    expect(result.status).toBe('error');
    expect(result.error?.['ms-rpc']).toMatchObject({
      status: 'down',
      services: { users: { ready: 0, known: 2, required: true } },
      message: 'required service "users" has no ready provider (2 known)',
    });
    users.ready = 1;
    expect((await check()).status).toBe('ok');
  });

  it('is degraded, not down, when only an optional service has no ready provider', async () => {
    const { check } = await start({ sources: [{ source: new FakeSource('audit', 0), required: false }] });
    const result = await check();
    expect(result.status).toBe('degraded');
    expect(result.details['ms-rpc']).toMatchObject({ status: 'degraded', services: { audit: { ready: 0 } } });
    expect(result.details['ms-rpc']).not.toHaveProperty('registry');
  });

  it('reports an unreachable registry as degraded by default, down when registryRequired', async () => {
    const sources = [new FakeSource('users', 1)];
    const unreachable = fakeRegistry(() => Promise.resolve(false));
    const degraded = await (await start({ registry: unreachable, sources })).check();
    expect(degraded.status).toBe('degraded');
    expect(degraded.details['ms-rpc']).toMatchObject({
      status: 'degraded',
      registry: { kind: 'fake', reachable: false, required: false },
      message: 'registry (fake) unreachable',
    });
    await app!.close();

    const { check } = await start({ registry: unreachable, registryRequired: true, sources });
    const result = await failing(check);
    expect(result.error?.['ms-rpc']).toMatchObject({ status: 'down', registry: { reachable: false, required: true } });
  });

  it('counts a registry that throws or does not answer in time as unreachable', async () => {
    const failingRegistry = fakeRegistry(() => Promise.reject(new Error('ECONNREFUSED 127.0.0.1:8848')));
    const thrown = await (await start({ registry: failingRegistry, registryRequired: true })).indicator.isHealthy();
    expect(thrown['ms-rpc']).toMatchObject({ status: 'down', registry: { reachable: false, error: 'ECONNREFUSED 127.0.0.1:8848' } });
    await app!.close();

    const hung = fakeRegistry(() => new Promise<boolean>(() => undefined));
    const { indicator } = await start({ registry: hung, registryTimeoutMs: 30, registryRequired: true });
    const startedAt = Date.now();
    const result = await indicator.isHealthy('nacos-check');
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(result['nacos-check']).toMatchObject({
      status: 'down',
      registry: { reachable: false, error: 'no answer within 30 ms' },
    });
    expect(result['nacos-check'].registry!.responseTimeMs).toBeGreaterThanOrEqual(25);
  });

  it('watches and unwatches sources at runtime; one service seen by two clients merges', async () => {
    const { indicator, check } = await start({});
    expect((await check()).details['ms-rpc']).toEqual({ status: 'up', services: {} });
    const stopUsers = indicator.watch(new FakeSource('users', 0, 1));
    indicator.watch(new FakeSource('users', 2, 2), { required: false });
    const broken: HealthSource = {
      serviceName: 'orders',
      readyProviderCount: () => {
        throw new Error('client closed');
      },
      knownProviderCount: () => 0,
    };
    indicator.watch(broken, { required: false });
    const result = await check();
    expect(result.status).toBe('degraded');
    expect(result.details['ms-rpc']).toMatchObject({
      services: {
        users: { ready: 2, known: 2, required: true },
        orders: { ready: 0, known: 0, required: false, error: 'client closed' },
      },
    });
    stopUsers();
    indicator.unwatch(broken);
    expect((await check()).details['ms-rpc']).toMatchObject({ status: 'up', services: { users: { required: false } } });
  });

  it('works when provided by hand, and through forRootAsync with injected sources', async () => {
    @Module({
      imports: [TerminusModule],
      providers: [MsRpcHealthIndicator, { provide: MS_RPC_HEALTH_OPTIONS, useValue: { key: 'rpc' } }],
    })
    class ByHand {}
    app = await NestFactory.createApplicationContext(ByHand, { logger: false });
    expect(await app.get(MsRpcHealthIndicator).isHealthy()).toEqual({ rpc: { status: 'up', services: {} } });
    await app.close();

    const USERS = Symbol('USERS_CLIENT');
    @Module({ providers: [{ provide: USERS, useValue: new FakeSource('users', 0) }], exports: [USERS] })
    class ClientsModule {}
    @Module({
      imports: [
        MsRpcHealthModule.forRootAsync({
          imports: [ClientsModule],
          inject: [USERS],
          useFactory: (users: HealthSource) => ({ sources: [users] }),
        }),
      ],
    })
    class Async {}
    app = await NestFactory.createApplicationContext(Async, { logger: false });
    expect((await app.get(MsRpcHealthIndicator).isHealthy())['ms-rpc'].status).toBe('down');
  });
});

describe('MsRpcHealthIndicator on Terminus 11 (no degraded status)', () => {
  it('stays up and flags degraded: true', async () => {
    // Terminus 11's session has up()/down() only.
    const compose = (key: string, status: string) => (data: object) => ({ [key]: { ...data, status } });
    const terminus11 = { check: (key: string) => ({ up: compose(key, 'up'), down: compose(key, 'down') }) };
    const indicator = new MsRpcHealthIndicator(terminus11 as never, {
      registry: fakeRegistry(() => Promise.resolve(false)),
      sources: [new FakeSource('users', 1)],
    });
    expect((await indicator.isHealthy())['ms-rpc']).toMatchObject({ status: 'up', degraded: true });
    indicator.watch(new FakeSource('orders', 0));
    expect((await indicator.isHealthy())['ms-rpc']).toMatchObject({ status: 'down' });
  });
});

describe('resolveHealthOptions', () => {
  it('fills the documented defaults and names the bad field', () => {
    const resolved = resolveHealthOptions();
    expect(resolved).toMatchObject({ registry: undefined, registryTimeoutMs: 2000, registryRequired: false, sources: [], key: 'ms-rpc' });
    expect(() => resolveHealthOptions({ registryTimeoutMs: 0 })).toThrow(/"MsRpcHealthModule\.registryTimeoutMs"/);
    expect(() => resolveHealthOptions({ sources: [{ serviceName: 'x' } as never] })).toThrow(
      /"MsRpcHealthModule\.sources\[0\]\.readyProviderCount"/,
    );
    expect(() => resolveHealthOptions({ registry: {} as Registry })).toThrow(/"MsRpcHealthModule\.registry\.isReachable"/);
    expect(() => resolveHealthOptions({ timeout: 5 } as never)).toThrow(/"MsRpcHealthModule\.timeout".*unknown/);
    const source = { serviceName: 'x', readyProviderCount: () => 1, knownProviderCount: () => 1 };
    expect(() => resolveHealthOptions({ sources: [{ source, requred: false } as never] })).toThrow(
      /"MsRpcHealthModule\.sources\[0\]\.requred".*unknown/,
    );
  });
});
