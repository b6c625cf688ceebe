import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { MsRpcModule } from '../../lib/index.js';
import { closeOnSignals, reportReady } from '../common/close-on-signals.js';
import { SampleLogger } from '../common/sample-logger.js';
import { MATH_SERVICE_NAME } from '../common/rpc-options.js';
import { ProviderModule } from './provider.module.js';

/**
 * A "math" provider: a Nest app whose microservice is an MsRpcServer built by
 * `MsRpcModule.createServer` (it reads the module's settings and, in Nacos mode, its registry:
 * the server registers once listening and deregisters first on close). No HTTP listener.
 *
 * Env: PROVIDER_NAME, PROVIDER_PORT (default 4100; 0 = any free port), NACOS_SERVER (Nacos mode).
 */
const name = process.env.PROVIDER_NAME ?? `math-${process.pid}`;
const logger = new SampleLogger(name);
const app = await NestFactory.create(ProviderModule, { logger });
const server = MsRpcModule.createServer(app, {
  service: MATH_SERVICE_NAME,
  host: '127.0.0.1',
  port: Number(process.env.PROVIDER_PORT ?? 4100),
});
app.connectMicroservice<MicroserviceOptions>({ strategy: server });
await app.startAllMicroservices();
await app.init();
closeOnSignals(app, logger);
reportReady(server.port);
