import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { MsRpcServer } from '../../lib/index.js';
import { setUpTracing, tracingFromArgv } from '../tracing-setup.js';
import { EchoModule } from './echo-module.js';
import { codecFromArgv, numberFromArgv, runServerProcess } from './server-process.js';

runServerProcess(async () => {
  // `--tracing noop|sdk`: the tracing rows; off (no API loaded) otherwise.
  const tracing = await setUpTracing(tracingFromArgv());
  // `--idle-timeout ms` (the idle-connections row with longer heartbeats): the client interval
  // it expects is a third of it, as the clients there use.
  const idleTimeout = numberFromArgv('--idle-timeout');
  const strategy = new MsRpcServer({
    host: '127.0.0.1',
    port: 0,
    codec: codecFromArgv(),
    tracing,
    ...(idleTimeout !== undefined ? { idleTimeout, clientHeartbeatInterval: Math.floor(idleTimeout / 3) } : {}),
  });
  const app = await NestFactory.createMicroservice(EchoModule, { strategy, logger: false });
  await app.listen();
  return { port: strategy.port, close: () => app.close(), stats: () => ({ connections: strategy.connectionCount }) };
});
