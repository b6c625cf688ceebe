import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ClientProxy } from '@nestjs/microservices';
import { closeOnSignals, reportReady } from '../common/close-on-signals.js';
import { SampleLogger } from '../common/sample-logger.js';
import { GatewayModule } from './gateway.module.js';
import { MATH_SERVICE } from './math.controller.js';

/**
 * The HTTP gateway: a Nest HTTP app calling the "math" providers through an injected client.
 *
 * Env: GATEWAY_PORT (default 3000; 0 = any free port), MATH_PROVIDERS (direct mode) or
 * NACOS_SERVER (Nacos mode).
 */
const logger = new SampleLogger('gateway');
const app = await NestFactory.create(GatewayModule, { logger });
// Clients connect lazily (on the first call); connecting now lets /health report ready
// providers before any traffic. A provider that is not up yet is no reason to refuse to start.
await app
  .get<ClientProxy>(MATH_SERVICE)
  .connect()
  .catch((err: Error) => logger.warn(`no math provider ready yet: ${err.message}`, 'Gateway'));
await app.listen(Number(process.env.GATEWAY_PORT ?? 3000), '127.0.0.1');
const port = Number(new URL(await app.getUrl()).port);
logger.log(`listening on http://127.0.0.1:${port}`, 'Gateway');
closeOnSignals(app, logger);
reportReady(port);
