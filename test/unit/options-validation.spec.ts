import { describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  InvalidOptionsError,
  MsRpcClient,
  MsRpcModule,
  MsRpcRecord,
  MsRpcRecordBuilder,
  MsRpcServer,
  NacosRegistry,
  RpcMetrics,
  StaticRegistry,
} from '../../lib/index.js';
import { NacosTestServer } from '../../lib/testing/index.js';

/** The field an InvalidOptionsError names (or what was thrown instead, so a mismatch shows it). */
function fieldOf(attempt: () => unknown): unknown {
  try {
    attempt();
  } catch (err) {
    return err instanceof InvalidOptionsError ? err.field : err;
  }
  return 'nothing thrown';
}

async function fieldOfAsync(attempt: () => Promise<unknown>): Promise<unknown> {
  try {
    await attempt();
  } catch (err) {
    return err instanceof InvalidOptionsError ? err.field : err;
  }
  return 'nothing thrown';
}

// Options as plain JavaScript passes them: no type stands between a typo and the library.
const js = (value: unknown): never => value as never;
const direct = { service: 'math', providers: ['127.0.0.1:4100'] };
const registry = new StaticRegistry(['127.0.0.1:4100']);

/**
 * Issue 17: every option object, nested ones included, rejects unknown keys at run time, and every
 * error names its field with one scheme: `<what the user built or called>.<path>`, with `.key`
 * and `[index]` segments (`MsRpcModule.channel.heartbeatInterval`, `MsRpcClient.providers[0]`).
 */
describe('options: one naming scheme, unknown keys rejected at every level', () => {
  const misspelt: Array<[string, () => unknown]> = [
    // MsRpcClient
    ['MsRpcClient.timout', () => new MsRpcClient(js({ ...direct, timout: 5 }))],
    ['MsRpcClient.backoff.intialDelay', () => new MsRpcClient(js({ ...direct, backoff: { intialDelay: 5 } }))],
    ['MsRpcClient.balancer.warmUp', () => new MsRpcClient(js({ ...direct, balancer: { warmUp: false } }))],
    ['MsRpcClient.retryBudget.ration', () => new MsRpcClient(js({ ...direct, retryBudget: { ration: 0.1 } }))],
    ['MsRpcClient.outlierDetection.intervalMS', () => new MsRpcClient(js({ ...direct, outlierDetection: { intervalMS: 5 } }))],
    ['MsRpcClient.tls.rejectUnauthorised', () => new MsRpcClient(js({ ...direct, tls: { rejectUnauthorised: false } }))],
    ['MsRpcClient.providers[1].wieght', () => new MsRpcClient(js({ service: 'm', providers: ['127.0.0.1:1', { host: 'h', port: 2, wieght: 3 }] }))],
    // MsRpcServer
    ['MsRpcServer.prot', () => new MsRpcServer(js({ prot: 4100 }))],
    ['MsRpcServer.tls.rejectUnauthorised', () => new MsRpcServer(js({ tls: { rejectUnauthorised: false } }))],
    ['MsRpcServer.auth.token', () => new MsRpcServer(js({ auth: { token: 'x' } }))],
    // MsRpcModule.forRoot and its nested objects
    ['MsRpcModule.chanel', () => MsRpcModule.forRoot(js({ chanel: {} }))],
    ['MsRpcModule.channel.heartbeatIntervall', () => MsRpcModule.forRoot(js({ channel: { heartbeatIntervall: 1000 } }))],
    ['MsRpcModule.channel.tls.rejectUnauthorised', () => MsRpcModule.forRoot(js({ channel: { tls: { rejectUnauthorised: false } } }))],
    ['MsRpcModule.backoff.maxDelai', () => MsRpcModule.forRoot(js({ backoff: { maxDelai: 5 } }))],
    ['MsRpcModule.nacos.serverlist', () => MsRpcModule.forRoot(js({ nacos: { serverlist: 'a' } }))],
    ['MsRpcModule.nacos.grpc.requestTimout', () => MsRpcModule.forRoot(js({ nacos: { serverList: 'a', grpc: { requestTimout: 5 } } }))],
    ['MsRpcModule.nacos.tls.servrname', () => MsRpcModule.forRoot(js({ nacos: { serverList: 'a', tls: { servrname: 'x' } } }))],
    ['MsRpcModule.clientDefaults.timout', () => MsRpcModule.forRoot(js({ clientDefaults: { timout: 5 } }))],
    ['MsRpcModule.clientDefaults.balancer.virtualnodes', () => MsRpcModule.forRoot(js({ clientDefaults: { balancer: { virtualnodes: 5 } } }))],
    ['MsRpcModule.clientDefaults.retryBudget.windowMS', () => MsRpcModule.forRoot(js({ clientDefaults: { retryBudget: { windowMS: 5 } } }))],
    // registerClients entries
    ['MsRpcModule.registerClients[1].retrys', () => MsRpcModule.registerClients(js([{ name: 'A', service: 'a' }, { name: 'B', service: 'b', retrys: 1 }]))],
    ['MsRpcModule.registerClients[0].balancer.stratgy', () => MsRpcModule.registerClients(js([{ name: 'A', service: 'a', balancer: { stratgy: 'random' } }]))],
    // Registries, metrics, records, test servers
    ['NacosRegistry.grpc.redoIntervall', () => new NacosRegistry(js({ serverList: 'a', grpc: { redoIntervall: 5 } }))],
    ['NacosRegistry.tls.cafile', () => new NacosRegistry(js({ serverList: 'a', tls: { cafile: 'x' } }))],
    ['StaticRegistry.addresses[0].wieght', () => new StaticRegistry(js([{ host: 'h', port: 1, wieght: 2 }]))],
    ['RpcMetrics.maxPatern', () => new RpcMetrics(js({ maxPatern: 5 }))],
    ['MsRpcRecord.tiemout', () => new MsRpcRecord(1, js({ tiemout: 5 }))],
    ['NacosTestServer.pushDelay', () => new NacosTestServer(js({ pushDelay: 5 }))],
  ];

  it.each(misspelt)('%s: unknown option', (field, attempt) => {
    expect(fieldOf(attempt)).toBe(field);
    expect(attempt).toThrow(/unknown option \(known: /);
  });

  it('names bad values by the same scheme, at every level', () => {
    expect(fieldOf(() => new MsRpcClient({ ...direct, providers: ['127.0.0.1:4100', 'nope'] }))).toBe('MsRpcClient.providers[1]');
    expect(fieldOf(() => new MsRpcClient({ ...direct, balancer: { warmupMs: 0 } }))).toBe('MsRpcClient.balancer.warmupMs');
    expect(fieldOf(() => MsRpcModule.forRoot({ channel: { heartbeatInterval: -1 } }))).toBe('MsRpcModule.channel.heartbeatInterval');
    expect(fieldOf(() => MsRpcModule.forRoot({ clientDefaults: { timeout: 0 } }))).toBe('MsRpcModule.clientDefaults.timeout');
    expect(fieldOf(() => MsRpcModule.forRoot({ nacos: { serverList: ['a:99999'] } }))).toBe('MsRpcModule.nacos.serverList[0].port');
    expect(fieldOf(() => MsRpcModule.registerClients([{ name: 'A', service: 'a', idempotentPatterns: [''] }]))).toBe(
      'MsRpcModule.registerClients[0].idempotentPatterns[0]',
    );
    expect(fieldOf(() => new NacosRegistry({ serverList: '' }))).toBe('NacosRegistry.serverList[0]');
    expect(fieldOf(() => new MsRpcRecordBuilder(1).setTimeout(0))).toBe('MsRpcRecord.timeout');
    expect(fieldOf(() => new MsRpcRecordBuilder().build())).toBe('MsRpcRecord.data');
    // A channel setting given to one client of the module: refused, not silently ignored.
    expect(fieldOf(() => MsRpcModule.forRoot({ clientDefaults: js({ heartbeatInterval: 50 }) }))).toBe('MsRpcModule.clientDefaults.heartbeatInterval');
  });

  it('an options argument that is not an object names its owner', () => {
    expect(fieldOf(() => new MsRpcClient(js('math')))).toBe('MsRpcClient');
    expect(fieldOf(() => new MsRpcServer(js([4100])))).toBe('MsRpcServer');
    expect(fieldOf(() => MsRpcModule.forRoot(js(null)))).toBe('MsRpcModule');
    expect(fieldOf(() => MsRpcModule.forRoot(js({ channel: 'fast' })))).toBe('MsRpcModule.channel');
    expect(fieldOf(() => new MsRpcClient(js({ ...direct, backoff: 5 })))).toBe('MsRpcClient.backoff');
    expect(fieldOf(() => MsRpcModule.registerClients(js({ name: 'A' })))).toBe('MsRpcModule.registerClients');
    expect(fieldOf(() => new MsRpcClient(js({ ...direct, logger: { log: () => undefined } })))).toBe('MsRpcClient.logger.warn');
    expect(fieldOf(() => new MsRpcClient(js({ service: 'm', registry: { kind: 'x' } })))).toBe('MsRpcClient.registry.identity');
  });

  it('the options of client.call() and of a registry call', async () => {
    const client = new MsRpcClient(direct);
    await expect(fieldOfAsync(() => client.call('echo', 1, js({ tiemout: 5 })))).resolves.toBe('MsRpcClient.call.tiemout');
    await expect(fieldOfAsync(() => client.call('echo', 1, { timeout: 0 }))).resolves.toBe('MsRpcClient.call.timeout');
    await client.close();
    const nacos = new NacosRegistry({ serverList: '127.0.0.1:1', protocol: 'http' });
    await expect(fieldOfAsync(() => nacos.register(js({ service: 's', host: 'h', port: 1, wieght: 1 })))).resolves.toBe('Registration.wieght');
    await nacos.close();
  });
});

describe('service is required whenever a registry is configured', () => {
  it('MsRpcClient: with a registry, a forgotten service is an error (it used to look up "ms-rpc")', () => {
    expect(fieldOf(() => new MsRpcClient({ registry }))).toBe('MsRpcClient.service');
    expect(() => new MsRpcClient({ registry })).toThrow(/required with a registry/);
    expect(fieldOf(() => new MsRpcClient({ registry, service: '' }))).toBe('MsRpcClient.service');
    expect(new MsRpcClient({ registry, service: 'math' }).serviceName).toBe('math');
    // Direct mode: the service is only a label, and keeps its default.
    expect(new MsRpcClient({ providers: ['127.0.0.1:4100'] }).serviceName).toBe('ms-rpc');
  });

  it('MsRpcServer: with a registry, a forgotten service is an error', () => {
    expect(fieldOf(() => new MsRpcServer({ registry }))).toBe('MsRpcServer.service');
    expect(() => new MsRpcServer({ registry })).toThrow(/required with a registry/);
    expect(() => new MsRpcServer({ registry, service: 'math' })).not.toThrow();
  });

  it('MsRpcModule.registerClients: every entry names its service', () => {
    expect(fieldOf(() => MsRpcModule.registerClients(js([{ name: 'MATH', providers: ['127.0.0.1:1'] }])))).toBe(
      'MsRpcModule.registerClients[0].service',
    );
    expect(fieldOf(() => MsRpcModule.registerClients(js([{ service: 'math' }])))).toBe('MsRpcModule.registerClients[0].name');
  });
});

describe('registerClients without forRoot', () => {
  it('fails the app start with an error that says to import MsRpcModule.forRoot()', async () => {
    @Module({ imports: [MsRpcModule.registerClients([{ name: 'MATH', service: 'math', providers: ['127.0.0.1:4100'] }])] })
    class AppModule {}
    let caught: unknown;
    try {
      const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
      await app.close();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    expect((caught as InvalidOptionsError).field).toBe('MsRpcModule.registerClients[0]');
    expect((caught as Error).message).toContain('needs MsRpcModule.forRoot() (or forRootAsync())');
    expect((caught as Error).message).not.toContain('Symbol(MS_RPC_MODULE_OPTIONS)');
  });

  it('registerClientsAsync too, and its factory result is validated as registerClientsAsync[i]', async () => {
    const start = async (module: object) => {
      try {
        const app = await NestFactory.createApplicationContext(module as never, { logger: false, abortOnError: false });
        await app.close();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    @Module({ imports: [MsRpcModule.registerClientsAsync([{ name: 'MATH', useFactory: () => ({ service: 'math', providers: ['127.0.0.1:1'] }) }])] })
    class Alone {}
    expect(String((await start(Alone)) as Error)).toContain('needs MsRpcModule.forRoot()');
    @Module({
      imports: [
        MsRpcModule.forRoot(),
        MsRpcModule.registerClientsAsync([{ name: 'MATH', useFactory: () => js({ service: 'math', providers: ['127.0.0.1:1'], timout: 5 }) }]),
      ],
    })
    class Misspelt {}
    const err = await start(Misspelt);
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as InvalidOptionsError).field).toBe('MsRpcModule.registerClientsAsync[0].timout');
  });
});
