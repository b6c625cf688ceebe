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
  const server = app.unwrap<Server>();
  const { port } = server.address() as AddressInfo;
  // net.Server's own count: a listener per socket would add heap to what the idle row measures.
  const connections = () => (server as unknown as { _connections: number })._connections;
  return { port, close: () => app.close(), stats: () => ({ connections: connections() }) };
});
