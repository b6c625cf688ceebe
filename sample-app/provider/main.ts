import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
import { MsRpcServer, MsRpcServerFactory } from '../../lib/index.js';
import { closeOnSignals, reportReady } from '../common/close-on-signals.js';
import { SampleLogger } from '../common/sample-logger.js';
import { MATH_SERVICE_NAME } from '../common/rpc-options.js';
import { ProviderModule } from './provider.module.js';

/**
 * A "math" provider: a pure Nest microservice (no HTTP app) whose transport is an MsRpcServer
 * built from MsRpcModule's configuration by the injected MsRpcServerFactory (codec and limits of
 * `forRoot({ channel })`; in Nacos mode its registry: the server registers once listening and
 * deregisters first on close).
 *
 * Env: PROVIDER_NAME, PROVIDER_PORT (default 4100; 0 = any free port), NACOS_SERVER (Nacos mode).
 */
const name = process.env.PROVIDER_NAME ?? `math-${process.pid}`;
const logger = new SampleLogger(name);
// #region createMicroservice
const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(ProviderModule, {
  logger,
  inject: [MsRpcServerFactory],
  useFactory: (servers: MsRpcServerFactory) => ({
    strategy: servers.create({
      service: MATH_SERVICE_NAME,
      host: '127.0.0.1',
      port: Number(process.env.PROVIDER_PORT ?? 4100),
    }),
  }),
});
await app.listen();
// #endregion createMicroservice
closeOnSignals(app, logger);
reportReady((app.getTransportServer() as MsRpcServer).port);
