import { Logger } from '@nestjs/common';
import type { MessageHandler } from '@nestjs/microservices';
import { MsRpcServer } from '../../lib/index.js';
import { codecFromArgv, runServerProcess } from './server-process.js';

/**
 * The transport without Nest's handler pipeline: an `MsRpcServer` used on its own, its one handler
 * a plain function added with `addHandler` (no guards, pipes, interceptors, filters or param
 * decorators run). Not a way to serve an app: the context row that splits the gap to raw net into
 * what the transport costs and what Nest's pipeline and rxjs cost on top (system `ms-rpc-bare`).
 */
runServerProcess(async () => {
  // Quiet like the Nest-hosted server (`logger: false`): no app here to pass it to.
  Logger.overrideLogger(false);
  const strategy = new MsRpcServer({ host: '127.0.0.1', port: 0, codec: codecFromArgv(), tracing: false });
  strategy.addHandler('echo', ((data: unknown) => Promise.resolve(data)) as MessageHandler);
  await new Promise<void>((resolve, reject) => {
    strategy.listen((err?: unknown) => (err ? reject(err as Error) : resolve()));
  });
  return { port: strategy.port, close: () => strategy.close(), stats: () => ({ connections: strategy.connectionCount }) };
});
