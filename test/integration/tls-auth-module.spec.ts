import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Inject, Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxy, MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import {
  AuthError,
  InvalidOptionsError,
  MsRpcModule,
  MsRpcServer,
  StaticRegistry,
  type MsRpcModuleOptions,
  type Registration,
} from '../../lib/index.js';
import { recordingLogger, waitUntil } from '../support/loopback-utils.js';
import { makeTestPki, type TestPki } from '../support/test-certs.js';

/**
 * TLS + token through the Nest module: the provider's server comes from MsRpcModule.createServer
 * (mTLS and a token), consumers get their TLS settings and token from forRoot({ channel }) and
 * discover the provider through the module's registry, where it announced `tls: 'true'`.
 */

/** A registry in this process: what a provider registers is what consumers discover. */
class InProcessRegistry extends StaticRegistry {
  readonly registrations: Registration[] = [];

  constructor() {
    super([]);
  }

  override async register(reg: Registration): Promise<void> {
    this.registrations.push(reg);
    this.setInstances([{ host: reg.host, port: reg.port, metadata: reg.metadata }]);
  }

  override async deregister(): Promise<void> {
    this.setInstances([]);
  }
}

@Controller()
class GreetController {
  @MessagePattern('greet')
  greet(@Payload() name: string) {
    return `hello ${name}`;
  }
}

@Injectable()
class Caller {
  constructor(@Inject('GREETER') readonly greeter: ClientProxy) {}
}

const quiet = recordingLogger();
const TOKEN = 'module-token-42';

describe('TLS and token auth through MsRpcModule', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki();
  });

  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of cleanup.splice(0).reverse()) await close();
  });

  async function startProvider(registry: InProcessRegistry): Promise<MsRpcServer> {
    @Module({ imports: [MsRpcModule.forRoot({ registry, logger: quiet })], controllers: [GreetController] })
    class ProviderModule {}
    const app = await NestFactory.create(ProviderModule, { logger: false, abortOnError: false });
    cleanup.push(() => app.close());
    const server = MsRpcModule.createServer(app, {
      service: 'greeter',
      tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca, requestCert: true },
      auth: { tokens: [TOKEN] },
    });
    app.connectMicroservice({ strategy: server });
    await app.startAllMicroservices();
    await app.init();
    await waitUntil(() => server.registered, 2000, 'registration');
    return server;
  }

  async function consumer(registry: InProcessRegistry, channel: MsRpcModuleOptions['channel']): Promise<INestApplicationContext> {
    @Module({
      imports: [
        MsRpcModule.forRoot({ registry, channel, clientDefaults: { logger: quiet, snapshotDir: false, timeout: 2000 } }),
        MsRpcModule.registerClients([{ name: 'GREETER', service: 'greeter' }]),
      ],
      providers: [Caller],
    })
    class ConsumerModule {}
    const app = await NestFactory.createApplicationContext(ConsumerModule, { logger: false, abortOnError: false });
    cleanup.push(() => app.close());
    return app;
  }

  it('a consumer with the CA, a client certificate and the token calls the mTLS + token provider it discovered', async () => {
    const registry = new InProcessRegistry();
    const server = await startProvider(registry);
    expect(registry.registrations[0].metadata).toMatchObject({ tls: 'true', auth: 'token' });

    const app = await consumer(registry, {
      tls: { ca: pki.ca, key: pki.client.key, cert: pki.client.cert },
      authToken: TOKEN,
    });
    await expect(firstValueFrom(app.get(Caller).greeter.send('greet', 'module'))).resolves.toBe('hello module');
    expect(server.connectionCount).toBe(1);

    // Same module setup with a wrong token: AuthError, at once.
    const intruder = await consumer(registry, {
      tls: { ca: pki.ca, key: pki.client.key, cert: pki.client.cert },
      authToken: 'guess',
    });
    const started = performance.now();
    await expect(firstValueFrom(intruder.get(Caller).greeter.send('greet', 'x'))).rejects.toBeInstanceOf(AuthError);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('TLS and token are channel settings: per-client ones are refused, naming the field', () => {
    // Refused where it is declared, as forRoot's options are.
    let err: unknown;
    try {
      MsRpcModule.registerClients([{ name: 'GREETER', service: 'greeter', authToken: TOKEN }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as InvalidOptionsError).field).toBe('MsRpcModule.registerClients[0].authToken');
    expect(() => MsRpcModule.forRoot({ channel: { authToken: '' } })).toThrow(/MsRpcModule\.channel\.authToken/);
  });
});
