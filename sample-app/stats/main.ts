import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { MsRpcModule } from '../../lib/index.js';
import { closeOnSignals, reportReady } from '../common/close-on-signals.js';
import { SampleLogger } from '../common/sample-logger.js';
import { STATS_SERVICE_NAME } from '../common/rpc-options.js';
import { StatsModule } from './stats.module.js';

/**
 * The "stats" service: a third service, which a "math" handler calls (gateway → math → stats), so
 * that the sample shows a deadline and a trace crossing two hops.
 *
 * Env: STATS_PORT (default 4102; 0 = any free port), NACOS_SERVER (Nacos mode).
 */
const logger = new SampleLogger('stats');
const app = await NestFactory.create(StatsModule, { logger });
const server = MsRpcModule.createServer(app, {
  service: STATS_SERVICE_NAME,
  host: '127.0.0.1',
  port: Number(process.env.STATS_PORT ?? 4102),
});
app.connectMicroservice<MicroserviceOptions>({ strategy: server });
await app.startAllMicroservices();
await app.init();
closeOnSignals(app, logger);
reportReady(server.port);
