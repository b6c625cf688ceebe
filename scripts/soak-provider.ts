/**
 * One provider of the chaos soak, run as a child process so the soak can SIGKILL, SIGSTOP/SIGCONT
 * and SIGTERM it: a real Nest microservice served by MsRpcServer and registered in Nacos through
 * NacosRegistry, exactly as a deployed provider is. Forked by test/support/soak-provider-process.ts
 * (compiled JS from `npm run soak`, TypeScript through test/support/ts-hooks.mjs under jest).
 *
 * argv: --nacos host:port --service name --port n --beat ms --shutdown ms
 * IPC out: {type:'ready', port} once listening; {type:'exec', ids} batches of the call ids whose
 * handler started (so the soak can tell how often each call ran); {type:'log', level, message} for
 * warnings and errors. SIGTERM is a graceful stop (deregister, go-away, drain, exit 0); the process
 * also stops when the soak goes away (IPC disconnect).
 */
import 'reflect-metadata';
import { Controller, Module, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { MsRpcServer, NacosRegistry, type MsRpcLogger } from '../lib/index.js';

/** What the consumer sends: a unique call id and how long the handler should take. */
interface SoakPayload {
  id: string;
  delayMs: number;
}

/** What every handler answers: the caller's id echoed, so a misrouted or duplicated answer shows. */
export interface SoakAnswer {
  id: string;
  pid: number;
}

function argument(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? process.argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`soak provider: --${name} is required`);
  return value;
}

const send = (message: object): void => {
  // The channel is gone when the soak died: nothing to report to, and the process is exiting.
  if (process.connected) process.send?.(message);
};

/** Batched per event-loop turn: one IPC message per turn, not per call, at thousands of calls/s. */
let executed: string[] = [];
function recordExecution(id: string): void {
  if (executed.length === 0) setImmediate(flushExecutions);
  executed.push(id);
}
function flushExecutions(): void {
  if (executed.length === 0) return;
  send({ type: 'exec', ids: executed });
  executed = [];
}

async function answer(data: SoakPayload): Promise<SoakAnswer> {
  recordExecution(data.id);
  if (data.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, data.delayMs));
  return { id: data.id, pid: process.pid };
}

@Controller()
class SoakController {
  /** Idempotent: the consumer lists it in `idempotentPatterns`. */
  @MessagePattern('soak.read')
  read(@Payload() data: SoakPayload): Promise<SoakAnswer> {
    return answer(data);
  }

  /** Idempotent per call: the consumer sends it in a record with `setRetries()`. */
  @MessagePattern('soak.lookup')
  lookup(@Payload() data: SoakPayload): Promise<SoakAnswer> {
    return answer(data);
  }

  /** Not idempotent: never retried, every failure reaches the caller. */
  @MessagePattern('soak.write')
  write(@Payload() data: SoakPayload): Promise<SoakAnswer> {
    return answer(data);
  }
}

@Module({ controllers: [SoakController] })
class SoakProviderModule {}

/** Warnings and errors go to the soak (counted in its report); the rest is dropped. */
const forward = (level: string) => (message: unknown) => send({ type: 'log', level, message: String(message) });
const nestLogger: LoggerService = {
  log: () => undefined,
  warn: forward('warn'),
  error: forward('error'),
  fatal: forward('error'),
};
const registryLogger: MsRpcLogger = { log: () => undefined, warn: forward('warn'), error: forward('error') };

async function main(): Promise<void> {
  const registry = new NacosRegistry({ serverList: [argument('nacos')], protocol: 'http', logger: registryLogger });
  const server = new MsRpcServer({
    host: '127.0.0.1',
    port: Number(argument('port', '0')),
    registry,
    service: argument('service'),
    // The Nacos client beats at this period (the metadata key Nacos itself honours).
    metadata: { 'preserved.heart.beat.interval': argument('beat', '1000') },
    shutdownTimeout: Number(argument('shutdown', '3000')),
  });
  const app = await NestFactory.createMicroservice(SoakProviderModule, { strategy: server, logger: nestLogger });
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    // A stop that hangs must not leave the process behind.
    setTimeout(() => process.exit(code === 0 ? 3 : code), 15_000).unref();
    app
      .close()
      .then(() => registry.close())
      .catch((err: unknown) => send({ type: 'log', level: 'error', message: `shutdown failed: ${String(err)}` }))
      .finally(() => {
        flushExecutions();
        process.exit(code);
      });
  };
  process.once('SIGTERM', () => stop(0));
  process.once('disconnect', () => stop(0));
  try {
    await app.listen();
  } catch (err) {
    send({ type: 'error', message: (err as Error)?.message ?? String(err), code: (err as NodeJS.ErrnoException)?.code });
    await registry.close().catch(() => undefined);
    process.exit(1);
  }
  send({ type: 'ready', port: server.port });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: (err as Error)?.stack ?? String(err) });
  process.exit(1);
});
