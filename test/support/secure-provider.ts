import { afterEach } from '@jest/globals';
import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Controller, Inject, Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { interval, map, take } from 'rxjs';
import { MsRpcServer, type MsRpcClientOptions, type MsRpcServerOptions } from '../../lib/index.js';
import { recordingLogger } from './loopback-utils.js';
import { testClient } from './test-client.js';
import { trackSockets } from './test-provider.js';

/** Every handler invocation of a secure provider: proves what got through (or that nothing did). */
export class HandlerLog {
  /** Request and event handler invocations, in order, by pattern. */
  readonly invocations: string[] = [];
  /** Payloads of the 'note' event. */
  readonly notes: unknown[] = [];
}

@Controller()
class SecureController {
  constructor(@Inject(HandlerLog) private readonly log: HandlerLog) {}

  @MessagePattern('echo')
  echo(@Payload() data: unknown) {
    this.log.invocations.push('echo');
    return data;
  }

  /** `count` values, one every `every` ms. */
  @MessagePattern('stream')
  stream(@Payload() data: { count: number; every: number }) {
    this.log.invocations.push('stream');
    return interval(data.every).pipe(
      take(data.count),
      map((i) => i + 1),
    );
  }

  /** A string of `size` characters: larger than a client's frame limit on demand. */
  @MessagePattern('big')
  big(@Payload() data: { size: number }) {
    this.log.invocations.push('big');
    return 'x'.repeat(data.size);
  }

  @EventPattern<string>('note')
  note(@Payload() data: unknown) {
    this.log.invocations.push('note');
    this.log.notes.push(data);
  }
}

@Module({})
class SecureProviderModule {
  static with(log: HandlerLog): DynamicModule {
    return { module: SecureProviderModule, controllers: [SecureController], providers: [{ provide: HandlerLog, useValue: log }] };
  }
}

/** What a TLS server saw of one client once its handshake was done. */
export interface PeerInfo {
  protocol: string | null;
  authorized: boolean;
  /** Common name of the client certificate, when one was presented. */
  clientCn?: string;
}

export interface SecureProvider {
  readonly app: INestMicroservice;
  readonly server: MsRpcServer;
  readonly port: number;
  readonly address: string;
  readonly handlers: HandlerLog;
  readonly logger: ReturnType<typeof recordingLogger>;
  /** TCP sockets open on the server side (TLS or not, authenticated or not). */
  readonly sockets: ReadonlySet<Socket>;
  /** TCP sockets accepted since start. */
  accepted(): number;
  /** Clients that completed the TLS handshake (TLS servers only). */
  readonly peers: PeerInfo[];
  close(): Promise<void>;
}

/** A Nest microservice on MsRpcServer (127.0.0.1, port 0) with the given TLS / auth options. */
export async function startSecureProvider(options: Partial<MsRpcServerOptions> = {}): Promise<SecureProvider> {
  const handlers = new HandlerLog();
  const logger = recordingLogger();
  const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300, ...options });
  // The server logs through Nest's Logger; keep its warnings for assertions instead of the console.
  (server as unknown as { logger: unknown }).logger = logger;
  const app = await NestFactory.createMicroservice(SecureProviderModule.with(handlers), { strategy: server, logger: false });
  await app.listen();
  const listener = server.unwrap<NetServer>();
  const { sockets, accepted } = trackSockets(listener);
  const peers: PeerInfo[] = [];
  listener.on('secureConnection', (socket: TLSSocket) => {
    const cert = socket.getPeerCertificate();
    peers.push({
      protocol: socket.getProtocol(),
      authorized: socket.authorized,
      clientCn: cert && typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined,
    });
  });
  let closing: Promise<void> | undefined;
  return {
    app,
    server,
    port: server.port,
    address: `127.0.0.1:${server.port}`,
    handlers,
    logger,
    sockets,
    accepted,
    peers,
    close: () => (closing ??= app.close()),
  };
}

/**
 * Providers and clients for one describe block, each closed after every test (last opened first).
 * `track` registers anything else to close (raw sockets).
 */
export function secureFixtures(clientTimeoutMs: number) {
  const open: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  return {
    async provider(options: Parameters<typeof startSecureProvider>[0]): Promise<SecureProvider> {
      const p = await startSecureProvider(options);
      open.push(p);
      return p;
    },
    client(p: SecureProvider, options: Partial<MsRpcClientOptions>) {
      const made = testClient(p.port, { timeout: clientTimeoutMs, ...options });
      open.push(made.client);
      return made;
    },
    track(closable: { close(): Promise<unknown> }): void {
      open.push(closable);
    },
  };
}
