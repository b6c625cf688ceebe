import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import {
  MsRpcClient,
  MsRpcContext,
  MsRpcServer,
  RequestCancelledError,
  RpcTimeoutError,
  ServerBusyError,
  type MsRpcServerOptions,
} from '../../lib/index.js';
import { recordingLogger, sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { RELAXED_HEARTBEAT } from '../support/server-fixtures.js';
import { testClient } from '../support/test-client.js';
import { trackSockets } from '../support/test-provider.js';

/** What the handlers saw: concurrency, and why their signals aborted. */
@Injectable()
class Probe {
  running = 0;
  maxRunning = 0;
  started = 0;
  finished = 0;
  readonly aborted = new Map<string, { reason: unknown; at: number }>();
  readonly begun = new Set<string>();

  enter(): void {
    this.started++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
  }

  leave(): void {
    this.running--;
    this.finished++;
  }
}

/** Resolves with the signal's reason once it aborts. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

@Controller()
class OverloadController {
  constructor(private readonly probe: Probe) {}

  /** Slow and uncooperative: ignores its signal, as most handlers written today do. */
  @MessagePattern('slow')
  async slow(@Payload() data: { ms: number }) {
    this.probe.enter();
    try {
      await sleep(data.ms);
      return 'done';
    } finally {
      this.probe.leave();
    }
  }

  /** Cooperative: waits for its signal and records why it aborted. */
  @MessagePattern('until-aborted')
  async untilAborted(@Payload() data: { id: string; lingerMs?: number }, @Ctx() ctx: MsRpcContext) {
    this.probe.begun.add(data.id);
    const reason = await aborted(ctx.signal);
    this.probe.aborted.set(data.id, { reason, at: performance.now() });
    if (data.lingerMs) await sleep(data.lingerMs);
    return 'nobody reads this';
  }

  @EventPattern<string>('slow-event')
  async slowEvent(@Payload() data: { ms: number }) {
    this.probe.enter();
    try {
      await sleep(data.ms);
    } finally {
      this.probe.leave();
    }
  }

  @EventPattern<string>('event-until-aborted')
  async eventUntilAborted(@Payload() data: { id: string }, @Ctx() ctx: MsRpcContext) {
    this.probe.begun.add(data.id);
    const reason = await aborted(ctx.signal);
    this.probe.aborted.set(data.id, { reason, at: performance.now() });
  }
}

@Module({ controllers: [OverloadController], providers: [Probe] })
class OverloadModule {}

interface Served {
  app: INestMicroservice;
  server: MsRpcServer;
  probe: Probe;
  logs: ReturnType<typeof recordingLogger>;
  destroySockets(): void;
  close(): Promise<void>;
}

describe('admission counts running handlers; handlers get an AbortSignal', () => {
  const open: Array<{ close(): unknown }> = [];
  const report: string[] = [];
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  afterAll(() => {
    process.stdout.write(`\nhandler admission report\n${report.map((l) => `  ${l}`).join('\n')}\n`);
  });

  async function serve(options: Partial<MsRpcServerOptions> = {}): Promise<Served> {
    const server = new MsRpcServer({ host: '127.0.0.1', port: 0, shutdownTimeout: 300, ...options });
    const logs = recordingLogger();
    (server as unknown as { logger: unknown }).logger = logs;
    const app = await NestFactory.createMicroservice(OverloadModule, { strategy: server, logger: false });
    await app.listen();
    const { sockets } = trackSockets(server.unwrap());
    let closing: Promise<void> | undefined;
    const served: Served = {
      app,
      server,
      probe: app.get(Probe),
      logs,
      destroySockets: () => {
        for (const s of sockets) s.destroy();
      },
      close: () => (closing ??= app.close()),
    };
    open.push(served);
    return served;
  }

  function client(s: Served, options: Parameters<typeof testClient>[1] = {}): MsRpcClient {
    const made = testClient(s.server.port, { timeout: 2000, ...RELAXED_HEARTBEAT, ...options });
    open.push(made.client);
    return made.client;
  }

  it('under timeout churn (slow handlers, short client timeouts) concurrent handlers never exceed maxConcurrentRequests', async () => {
    const limit = 8;
    const s = await serve({ maxConcurrentRequests: limit });
    const c = client(s, { timeout: 40 });
    await c.connect();
    // Waves of calls that time out (and cancel) long before their 250 ms handlers finish: each
    // cancel used to free a slot while its handler kept running.
    const outcomes: Array<Promise<{ error?: unknown }>> = [];
    for (let wave = 0; wave < 12; wave++) {
      for (let i = 0; i < 10; i++) outcomes.push(timed(firstValueFrom(c.send('slow', { ms: 250 }))));
      await sleep(25);
    }
    const results = await Promise.all(outcomes);
    const busy = results.filter((r) => r.error instanceof ServerBusyError).length;
    const timedOut = results.filter((r) => r.error instanceof RpcTimeoutError).length;
    await waitUntil(() => s.probe.running === 0, 3000, 'handlers to finish');
    report.push(
      `timeout churn: 120 calls (timeout 40 ms, handlers 250 ms), maxConcurrentRequests ${limit}: ` +
        `max concurrent handlers ${s.probe.maxRunning}, ${s.probe.started} ran, ${busy} refused busy, ${timedOut} timed out`,
    );
    expect(s.probe.maxRunning).toBeLessThanOrEqual(limit);
    expect(s.probe.maxRunning).toBeGreaterThan(0);
    expect(busy).toBeGreaterThan(0);
    expect(busy + timedOut).toBe(120);
    // Slots come back once the handlers are done, not before.
    await waitUntil(() => s.server.inFlightRequests === 0, 2000, 'slots released');
    await expect(firstValueFrom(client(s).send('slow', { ms: 1 }))).resolves.toBe('done');
  });

  it('events are admitted against the same limit; a refused one is counted and logged, not lost silently', async () => {
    const s = await serve({ maxConcurrentRequests: 3 });
    const c = client(s);
    await c.connect();
    await Promise.all(Array.from({ length: 20 }, () => lastValueFrom(c.emit('slow-event', { ms: 200 }), { defaultValue: undefined })));
    await waitUntil(() => s.probe.started > 0, 2000, 'events to start');
    await sleep(50);
    expect(s.probe.running).toBe(3);
    await waitUntil(() => s.probe.running === 0 && s.server.inFlightRequests === 0, 3000, 'events to finish');
    report.push(`events: 20 emitted at once, maxConcurrentRequests 3: max concurrent ${s.probe.maxRunning}, ${s.probe.started} ran`);
    expect(s.probe.maxRunning).toBe(3);
    const slow = s.server.metrics!.snapshot().patterns.find((p) => p.pattern === 'slow-event');
    expect(slow?.eventsRefused).toBe(20 - s.probe.started);
    expect(s.server.metrics!.toPrometheus('msrpc_server')).toContain(`msrpc_server_events_refused_total{pattern="slow-event"} ${20 - s.probe.started}`);
    const lines = s.logs.lines.filter((l) => /dropped/.test(l.message));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: expect.stringMatching(/event "slow-event" from 127\.0\.0\.1:\d+ dropped: 3 handlers running/) });
  });

  it('ctx.signal aborts with a RequestCancelledError when the caller unsubscribes or times out', async () => {
    const s = await serve();
    const c = client(s, { timeout: 150 });
    const sub = c.send('until-aborted', { id: 'unsub' }).subscribe({ error: () => undefined });
    await waitUntil(() => s.probe.begun.has('unsub'), 2000, 'handler start');
    const cancelledAt = performance.now();
    sub.unsubscribe();
    await waitUntil(() => s.probe.aborted.has('unsub'), 2000, 'abort');
    const unsub = s.probe.aborted.get('unsub')!;
    expect(unsub.reason).toBeInstanceOf(RequestCancelledError);
    expect(unsub.reason).toMatchObject({ code: 'ERR_CANCELLED', kind: 'client-cancel' });
    report.push(`signal after unsubscribe: aborted ${(unsub.at - cancelledAt).toFixed(1)} ms after the caller unsubscribed`);

    // The server aborts the handler at the deadline the request carried, about when the client's
    // own timer fires: an answer sent at once could reach a loaded client before that timer runs
    // (an answer read in time is taken). Lingering keeps this about the caller's timeout.
    const timedOut = await timed(firstValueFrom(c.send('until-aborted', { id: 'timeout', lingerMs: 500 })));
    expect(timedOut.error).toBeInstanceOf(RpcTimeoutError);
    await waitUntil(() => s.probe.aborted.has('timeout'), 2000, 'abort');
    // The caller's cancel, or the deadline its request carried, whichever reaches the handler first.
    expect(s.probe.aborted.get('timeout')!.reason).toMatchObject({ kind: expect.stringMatching(/^(client-cancel|deadline-exceeded)$/) });
    await waitUntil(() => s.server.inFlightRequests === 0, 2000, 'slots released');
  });

  it('ctx.signal aborts with connection-lost when the connection goes', async () => {
    const s = await serve();
    const c = client(s, { timeout: 5000 });
    const call = timed(firstValueFrom(c.send('until-aborted', { id: 'lost' })));
    await waitUntil(() => s.probe.begun.has('lost'), 2000, 'handler start');
    s.destroySockets();
    await waitUntil(() => s.probe.aborted.has('lost'), 2000, 'abort');
    const reason = s.probe.aborted.get('lost')!.reason as RequestCancelledError;
    expect(reason).toBeInstanceOf(RequestCancelledError);
    expect(reason.kind).toBe('connection-lost');
    await call;
  });

  it('ctx.signal aborts with server-shutdown for calls and events still running when close() runs out of shutdownTimeout', async () => {
    const s = await serve({ shutdownTimeout: 250 });
    // (The client's relaxed heartbeat: the connection must be closed by the server's shutdown.)
    const c = client(s, { timeout: 5000 });
    const call = timed(firstValueFrom(c.send('until-aborted', { id: 'call' })));
    await lastValueFrom(c.emit('event-until-aborted', { id: 'event' }), { defaultValue: undefined });
    await waitUntil(() => s.probe.begun.has('call') && s.probe.begun.has('event'), 2000, 'handlers start');
    const started = performance.now();
    await s.close();
    const closeMs = performance.now() - started;
    for (const id of ['call', 'event']) {
      const reason = s.probe.aborted.get(id)?.reason as RequestCancelledError | undefined;
      expect({ id, reason: String(reason) }).toEqual({ id, reason: expect.stringMatching(/^RequestCancelledError: Request cancelled \(server-shutdown\)/) });
    }
    report.push(`shutdown: close() with a call and an event still running took ${closeMs.toFixed(0)} ms (shutdownTimeout 250)`);
    expect(closeMs).toBeLessThan(2000);
    expect((await call).ok).toBe(false);
  });
});
