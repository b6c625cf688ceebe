/**
 * The server under attack, run as a child process so that a crash shows as an exit and the RSS
 * measured is the server's own: a real Nest microservice served by MsRpcServer, with a few
 * handlers. Forked by scripts/fuzz-server-process.ts (compiled JS from `npm run fuzz`, TypeScript
 * through test/support/ts-hooks.mjs under jest).
 *
 * argv: --options <JSON of MsRpcServerOptions>
 * IPC out: {type:'ready', port}, {type:'stats', ...} answering {type:'stats'}; IPC in: 'stats'
 * (with `resetPeak` to start a new peak-RSS window) and 'stop'. Every log line of the server is
 * counted here: per level, per remote address (warnings and errors), and per typed error name.
 */
import 'reflect-metadata';
import { Controller, Module, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { MsRpcServer, type MsRpcServerOptions } from '../lib/index.js';
import type { FuzzServerStats } from './fuzz-server-process.js';

const MAX_SLOW_MS = 1000;
const MAX_BIG_BYTES = 4 * 1024 * 1024;
const RSS_SAMPLE_MS = 20;
const SAMPLE_LINES = 20;

let eventsHandled = 0;

@Controller()
class FuzzController {
  @MessagePattern('echo')
  echo(@Payload() data: unknown): unknown {
    return data;
  }

  /** Answers after `ms` (capped): keeps request ids in flight for the reuse attacks. */
  @MessagePattern('slow')
  async slow(@Payload() data: unknown): Promise<number> {
    const ms = Math.min(MAX_SLOW_MS, Math.max(0, Number((data as { ms?: unknown } | null)?.ms) || 0));
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }

  /** A string of `size` bytes (capped): large answers for a client that never reads. */
  @MessagePattern('big')
  big(@Payload() data: unknown): string {
    const size = Math.min(MAX_BIG_BYTES, Math.max(0, Number((data as { size?: unknown } | null)?.size) || 0));
    return 'x'.repeat(size);
  }

  @EventPattern<string>('fuzz.event')
  event(): void {
    eventsHandled++;
  }
}

@Module({ controllers: [FuzzController] })
class FuzzModule {}

/** Counts what the server logs; keeps a few lines as samples. */
class CountingLogger implements LoggerService {
  readonly byLevel: Record<string, number> = {};
  /** Warnings and errors per `ip:port` the line starts with. */
  readonly byAddress: Record<string, number> = {};
  /** Typed error names in warning and debug lines (a connection's first fault warns, later ones go to debug). */
  readonly errorNames: Record<string, number> = {};
  readonly unattributed: string[] = [];
  readonly samples: string[] = [];

  log(message: unknown): void {
    this.count('log', message);
  }
  error(message: unknown): void {
    this.count('error', message);
  }
  warn(message: unknown): void {
    this.count('warn', message);
  }
  debug(message: unknown): void {
    this.count('debug', message);
  }
  verbose(message: unknown): void {
    this.count('verbose', message);
  }

  private count(level: string, message: unknown): void {
    const text = typeof message === 'string' ? message : message instanceof Error ? `${message.name}: ${message.message}` : String(message);
    this.byLevel[level] = (this.byLevel[level] ?? 0) + 1;
    if (level === 'warn' || level === 'debug') {
      const name = /: ([A-Z][A-Za-z]*Error): /.exec(text)?.[1];
      if (name) this.errorNames[name] = (this.errorNames[name] ?? 0) + 1;
    }
    if (level !== 'warn' && level !== 'error') return;
    const address = /^(\d{1,3}(?:\.\d{1,3}){3}:\d+)[: ]/.exec(text)?.[1];
    if (address) this.byAddress[address] = (this.byAddress[address] ?? 0) + 1;
    else if (this.unattributed.length < SAMPLE_LINES) this.unattributed.push(`${level}: ${text}`);
    if (this.samples.length < SAMPLE_LINES) this.samples.push(`${level}: ${text.slice(0, 300)}`);
  }
}

function parseOptions(): Partial<MsRpcServerOptions> {
  const i = process.argv.indexOf('--options');
  return i >= 0 ? (JSON.parse(process.argv[i + 1]) as Partial<MsRpcServerOptions>) : {};
}

async function main(): Promise<void> {
  const logger = new CountingLogger();
  const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 1000, ...parseOptions() });
  const app = await NestFactory.createMicroservice(FuzzModule, { strategy: server, logger });
  await app.listen();

  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  sampler.unref();

  const stats = (): FuzzServerStats => ({
    rss: process.memoryUsage.rss(),
    peakRss: (peakRss = Math.max(peakRss, process.memoryUsage.rss())),
    heapUsed: process.memoryUsage().heapUsed,
    connections: server.connectionCount,
    inFlightRequests: server.inFlightRequests,
    refusedConnections: server.refusedConnections,
    eventsHandled,
    logByLevel: logger.byLevel,
    logByAddress: logger.byAddress,
    errorNames: logger.errorNames,
    unattributed: logger.unattributed,
    samples: logger.samples,
  });

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(sampler);
    // A hung close must not keep the process alive.
    setTimeout(() => process.exit(code), 3000).unref();
    await app.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('message', (msg: { type: string; resetPeak?: boolean }) => {
    if (msg.type === 'stats') {
      const s = stats();
      if (msg.resetPeak) peakRss = s.rss;
      process.send?.({ type: 'stats', stats: s });
    } else if (msg.type === 'stop') {
      void stop(0);
    }
  });
  process.on('disconnect', () => void stop(0));
  process.send?.({ type: 'ready', port: server.port });
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
