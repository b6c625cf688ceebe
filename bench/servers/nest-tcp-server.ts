import 'reflect-metadata';
import type { AddressInfo, Server } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { EchoModule } from './echo-module.js';
import { runServerProcess } from './server-process.js';

runServerProcess(async () => {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(EchoModule, {
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port: 0 },
    logger: false,
  });
  await app.listen();
  // ServerTCP.unwrap() is the net.Server, which knows the port the OS picked for port 0.
  const { port } = app.unwrap<Server>().address() as AddressInfo;
  return { port, close: () => app.close() };
});
