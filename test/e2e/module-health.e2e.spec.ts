import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { firstValueFrom } from 'rxjs';
import { MsRpcHealthIndicator, MsRpcHealthModule } from '../../lib/health/index.js';
import { MsRpcClient, MsRpcModule } from '../../lib/index.js';
import { recordingLogger, waitUntil } from '../support/loopback-utils.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

/**
 * MsRpcHealthModule in a real HTTP app (Terminus controller) watching a client of MsRpcModule:
 * up while the provider has a ready connection, down (HTTP 503) once the client saw it drop.
 */

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly rpc: MsRpcHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.rpc.isHealthy('rpc')]);
  }
}

describe('MsRpcHealthModule watching a module client (real HTTP app)', () => {
  let app: INestApplication | undefined;
  let provider: TestProvider | undefined;

  afterEach(async () => {
    await app?.close();
    await provider?.close();
    app = provider = undefined;
  });

  it('reports up with a ready provider and down (503) once the provider stopped', async () => {
    provider = await startTestProvider();
    // One module object imported twice (app + health factory): one client, not two.
    const clients = MsRpcModule.registerClients([{ name: 'MATH', service: 'math', providers: [provider.address] }]);
    @Module({
      imports: [
        MsRpcModule.forRoot({ clientDefaults: { logger: recordingLogger(), timeout: 300 }, backoff: { initialDelay: 20, maxDelay: 100 } }),
        clients,
        TerminusModule,
        MsRpcHealthModule.forRootAsync({
          imports: [clients],
          inject: ['MATH'],
          useFactory: (math: MsRpcClient) => ({ sources: [math] }),
        }),
      ],
      controllers: [HealthController],
    })
    class GatewayModule {}
    app = await NestFactory.create(GatewayModule, { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    const url = `${await app.getUrl()}/health`.replace('[::1]', '127.0.0.1');
    const math = app.get<MsRpcClient>('MATH');
    // Clients connect lazily; a readiness probe should not wait for the first call.
    await math.connect();

    const up = await fetch(url);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({
      status: 'ok',
      info: { rpc: { status: 'up', services: { math: { ready: 1, known: 1, required: true } } } },
      error: {},
      details: { rpc: { status: 'up', services: { math: { ready: 1, known: 1, required: true } } } },
    });
    expect(provider.accepted()).toBe(1);

    await provider.close();
    await waitUntil(() => math.readyProviderCount() === 0, 2000, 'the client to see its connection drop');
    const down = await fetch(url);
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; error: { rpc: { status: string; services: object; message: string } } };
    expect(body.status).toBe('error');
    expect(body.error.rpc).toMatchObject({ status: 'down', services: { math: { ready: 0, required: true } } });
    expect(body.error.rpc.message).toContain('required service "math" has no ready provider');
    await expect(firstValueFrom(math.send('echo', 1))).rejects.toBeDefined();
  });
});
