import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { registryFromEnv } from '../registry-from-env.js';
import { ConsumerModule } from './consumer.module.js';
import { MathClientService } from './math-client.service.js';

/** Runs the consumer demo once (direct mode, or Nacos mode with NACOS_SERVER), then shuts down. */
export async function runConsumer(): Promise<void> {
  const registry = registryFromEnv('consumer');
  const app = await NestFactory.createApplicationContext(ConsumerModule.create(registry));
  try {
    await app.get(MathClientService).runDemo();
  } finally {
    await app.close();
    await registry?.close();
  }
}

if (process.argv[1]?.endsWith('consumer/main.js')) {
  await runConsumer();
}
