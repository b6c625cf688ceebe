import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConsumerModule } from './consumer.module.js';
import { MathClientService } from './math-client.service.js';

/** Runs the consumer demo once against SAMPLE_PROVIDERS, then shuts down. */
export async function runConsumer(): Promise<void> {
  const app = await NestFactory.createApplicationContext(ConsumerModule);
  try {
    await app.get(MathClientService).runDemo();
  } finally {
    await app.close();
  }
}

if (process.argv[1]?.endsWith('consumer/main.js')) {
  await runConsumer();
}
