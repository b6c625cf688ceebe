import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import { MsRpcServer } from '../../lib/index.js';
import { ProviderModule } from './provider.module.js';

/**
 * The provider microservice. Port from SAMPLE_PROVIDER_PORT (0 = any free port); when run
 * by sample-app/main.ts it reports the bound port to its parent over IPC.
 */
export async function startProvider() {
  const server = new MsRpcServer({
    host: process.env.SAMPLE_PROVIDER_HOST ?? '127.0.0.1',
    port: Number(process.env.SAMPLE_PROVIDER_PORT ?? 4100),
  });
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ProviderModule, { strategy: server });
  app.enableShutdownHooks();
  await app.listen();
  return { app, server };
}

const { server } = await startProvider();
process.send?.({ ready: true, port: server.port });
