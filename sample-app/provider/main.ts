import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { MsRpcServer } from '../../lib/index.js';
import { registryFromEnv } from '../registry-from-env.js';
import { ProviderModule } from './provider.module.js';

/**
 * The provider microservice. Port from SAMPLE_PROVIDER_PORT (0 = any free port). With
 * NACOS_SERVER set it registers itself as service "math" (and deregisters on shutdown).
 * Run by sample-app/main.ts it reports the bound port to its parent over IPC.
 */
const registry = registryFromEnv('provider');
const server = new MsRpcServer({
  host: process.env.SAMPLE_PROVIDER_HOST ?? '127.0.0.1',
  port: Number(process.env.SAMPLE_PROVIDER_PORT ?? 4100),
  ...(registry ? { registry, service: 'math' } : {}),
});
const app = await NestFactory.createMicroservice<MicroserviceOptions>(ProviderModule, { strategy: server });
await app.listen();

// Graceful stop: deregister, drain in-flight calls, then release the registry client.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app
      .close()
      .then(() => registry?.close())
      .finally(() => process.exit(0));
  });
}
process.send?.({ ready: true, port: server.port });
