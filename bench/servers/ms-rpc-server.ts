import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MsRpcServer } from '../../lib/index.js';
import { EchoModule } from './echo-module.js';
import { codecFromArgv, runServerProcess } from './server-process.js';

runServerProcess(async () => {
  const strategy = new MsRpcServer({ host: '127.0.0.1', port: 0, codec: codecFromArgv() });
  const app = await NestFactory.createMicroservice(EchoModule, { strategy, logger: false });
  await app.listen();
  return { port: strategy.port, close: () => app.close() };
});
