import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { lastValueFrom, toArray } from 'rxjs';
import { startChain, type Chain } from '../support/call-chain.js';
import { waitUntil } from '../support/loopback-utils.js';

/**
 * Issue 18, item 3: OpenTelemetry tracing through real Nest services, A → B → C, with the SDK set
 * up as NodeSDK sets it up (`NodeTracerProvider.register()`: the AsyncLocalStorage context manager,
 * W3C trace context and baggage propagators) and the in-memory exporter.
 */
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

/** Runs `work` in a root span (what an HTTP instrumentation would open), returns the root. */
async function inRootSpan(name: string, work: () => Promise<unknown>): Promise<ReadableSpan> {
  const tracer = trace.getTracer('test');
  let root!: Span;
  await tracer.startActiveSpan(name, async (span) => {
    root = span;
    try {
      await work().catch(() => undefined);
    } finally {
      span.end();
    }
  });
  const id = root.spanContext().spanId;
  return exporter.getFinishedSpans().find((s) => s.spanContext().spanId === id)!;
}

const idOf = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The one span named `name` of `kind` in `spans`. */
function one(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const found = spans.filter((s) => s.name === name && s.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${SpanKind[kind]} span "${name}", got ${found.length}: ${spans.map((s) => `${SpanKind[s.kind]} ${s.name}`).join(', ')}`);
  return found[0];
}

/** The trace as an indented tree (for the report and failure messages). */
function tree(spans: ReadableSpan[]): string {
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of spans.filter((x) => parentOf(x) === parent).sort((a, b) => (a.startTime[0] - b.startTime[0]) * 1e9 + a.startTime[1] - b.startTime[1])) {
      lines.push(`${'  '.repeat(depth)}${SpanKind[s.kind]} ${s.name}${s.status.code === SpanStatusCode.ERROR ? ` ERROR ${s.attributes['error.type']}` : ''}`);
      walk(idOf(s), depth + 1);
    }
  };
  const ids = new Set(spans.map(idOf));
  for (const root of spans.filter((s) => !parentOf(s) || !ids.has(parentOf(s)!))) {
    lines.push(`${SpanKind[root.kind]} ${root.name}`);
    walk(idOf(root), 1);
  }
  return lines.join('\n');
}

describe('OpenTelemetry tracing across services (A → B → C)', () => {
  let chain: Chain;
  const report: string[] = [];

  beforeAll(async () => {
    provider.register();
    chain = await startChain();
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await chain.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    process.stdout.write(`\ntracing report\n${report.join('\n')}\n`);
  });

  it('one trace: root → A CLIENT → B SERVER → B CLIENT → C SERVER, with the RPC attributes', async () => {
    const a = chain.clientOfB();
    await a.connect();
    await chain.bToC.connect();
    const root = await inRootSpan('GET /chain', () => a.call('b.work', { id: 'traced' }));
    const spans = exporter.getFinishedSpans();
    report.push(`a call through B to C:\n${tree(spans)}`);
    expect(spans).toHaveLength(5);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const aClient = one(spans, 'b/b.work', SpanKind.CLIENT);
    const bServer = one(spans, 'b/b.work', SpanKind.SERVER);
    const bClient = one(spans, 'c/c.work', SpanKind.CLIENT);
    const cServer = one(spans, 'c/c.work', SpanKind.SERVER);
    expect(parentOf(aClient)).toBe(idOf(root));
    expect(parentOf(bServer)).toBe(idOf(aClient));
    expect(parentOf(bClient)).toBe(idOf(bServer));
    expect(parentOf(cServer)).toBe(idOf(bClient));
    expect(aClient.attributes).toMatchObject({
      'rpc.system': 'nestjs-ms-rpc',
      'rpc.service': 'b',
      'rpc.method': 'b.work',
      'server.address': '127.0.0.1',
      'server.port': chain.b.port,
      'network.peer.address': '127.0.0.1',
      'network.peer.port': chain.b.port,
      'network.transport': 'tcp',
    });
    expect(cServer.attributes).toMatchObject({
      'rpc.system': 'nestjs-ms-rpc',
      'rpc.service': 'c',
      'rpc.method': 'c.work',
      'server.address': '127.0.0.1',
      'server.port': chain.c.port,
      'network.peer.address': '127.0.0.1',
      'client.address': '127.0.0.1',
    });
    expect(cServer.attributes['client.port']).toEqual(expect.any(Number));
    for (const s of spans) expect(s.status.code).toBe(SpanStatusCode.UNSET);
    // The server span covers the handler, inside the client's (span clocks agree within a millisecond).
    expect(hrMs(bServer.startTime)).toBeGreaterThanOrEqual(hrMs(aClient.startTime) - 1);
    expect(hrMs(bServer.endTime)).toBeLessThanOrEqual(hrMs(aClient.endTime) + 1);
    // C's handler sees the W3C trace context of B's call in its metadata.
    const atC = chain.c.probe.seen.get('traced')!;
    expect(atC.metadata?.traceparent).toBe(`00-${bClient.spanContext().traceId}-${idOf(bClient)}-01`);
  });

  it('a failing handler: ERROR status and the exception recorded on every span of the way back', async () => {
    const a = chain.clientOfB();
    await a.connect();
    await inRootSpan('GET /fail', () => a.call('b.fail', { id: 'fails' }));
    const spans = exporter.getFinishedSpans();
    report.push(`a call that fails in C:\n${tree(spans)}`);
    const cServer = one(spans, 'c/c.fail', SpanKind.SERVER);
    const bClient = one(spans, 'c/c.fail', SpanKind.CLIENT);
    const bServer = one(spans, 'b/b.fail', SpanKind.SERVER);
    const aClient = one(spans, 'b/b.fail', SpanKind.CLIENT);
    for (const s of [cServer, bClient, bServer, aClient]) {
      expect(s.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'c.fail fails' });
      expect(s.attributes['error.type']).toBe('C_FAILED');
      const exception = s.events.find((e) => e.name === 'exception');
      expect(exception?.attributes).toMatchObject({ 'exception.message': 'c.fail fails' });
    }
    expect(parentOf(cServer)).toBe(idOf(bClient));
  });

  it('a transport error (a timeout) is recorded with its code; the server span ends too', async () => {
    const a = chain.clientOfC({ timeout: 100 });
    await a.connect();
    await inRootSpan('GET /slow', () => a.call('c.work', { id: 'slow', untilAborted: true }));
    const client = one(exporter.getFinishedSpans(), 'c/c.work', SpanKind.CLIENT);
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
    expect(client.attributes['error.type']).toBe('ERR_RPC_TIMEOUT');
    expect(client.status.message).toMatch(/timed out after 100 ms/);
    // The server's span ends when the call is cancelled (no error of the handler's), or, when the
    // deadline the request carried reached the handler first, when it answered past it (an error:
    // nobody used that answer).
    const server = (await waitUntil(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER), 2000, 'the server span'))!;
    expect(parentOf(server)).toBe(idOf(client));
    if (server.status.code === SpanStatusCode.ERROR) {
      expect(server.status.message).toMatch(/deadline-exceeded/);
      expect(server.attributes['error.type']).toBe('ERR_CANCELLED');
    } else {
      expect(server.events.map((e) => e.name)).toContain('cancelled');
    }
    report.push(`a call that times out: the server span ${server.status.code === SpanStatusCode.ERROR ? 'failed past its deadline' : 'was cancelled'}`);
  });

  it('trace context survives emit(): PRODUCER span, then the CONSUMER span of the handler as its child', async () => {
    const a = chain.clientOfB();
    await a.connect();
    const root = await inRootSpan('POST /emit', () => a.call('b.emit', { id: 'emits' }));
    await waitUntil(() => exporter.getFinishedSpans().some((s) => s.kind === SpanKind.CONSUMER), 2000, 'the consumer span');
    const spans = exporter.getFinishedSpans();
    report.push(`an event emitted by B's handler:\n${tree(spans)}`);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([root.spanContext().traceId]));
    const bServer = one(spans, 'b/b.emit', SpanKind.SERVER);
    const producer = one(spans, 'c/c.note', SpanKind.PRODUCER);
    const consumer = one(spans, 'c/c.note', SpanKind.CONSUMER);
    expect(parentOf(producer)).toBe(idOf(bServer));
    expect(parentOf(consumer)).toBe(idOf(producer));
    expect(consumer.attributes).toMatchObject({ 'rpc.system': 'nestjs-ms-rpc', 'rpc.service': 'c', 'rpc.method': 'c.note' });
    expect(producer.attributes).toMatchObject({ 'server.port': chain.c.port });
  });

  it("trace context survives a streamed response: the stream's calls are children of the handler's span", async () => {
    const a = chain.clientOfB();
    await a.connect();
    let values: unknown[] = [];
    await inRootSpan('GET /stream', async () => {
      values = await lastValueFrom(a.send('b.stream', { id: 'st', count: 3 }).pipe(toArray()));
    });
    expect(values).toEqual(['st-0', 'st-1', 'st-2']);
    const spans = exporter.getFinishedSpans();
    report.push(`a streamed answer whose values each call C:\n${tree(spans)}`);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const aClient = one(spans, 'b/b.stream', SpanKind.CLIENT);
    const bServer = one(spans, 'b/b.stream', SpanKind.SERVER);
    expect(parentOf(bServer)).toBe(idOf(aClient));
    const nested = spans.filter((s) => s.name === 'c/c.work' && s.kind === SpanKind.CLIENT);
    expect(nested).toHaveLength(3);
    for (const call of nested) {
      expect(parentOf(call)).toBe(idOf(bServer));
      expect(spans.filter((s) => s.kind === SpanKind.SERVER && parentOf(s) === idOf(call))).toHaveLength(1);
    }
    // The server span covers the whole stream; the client span ends with its completion (span
    // clocks agree within a millisecond).
    expect(hrMs(bServer.endTime)).toBeGreaterThanOrEqual(Math.max(...nested.map((s) => hrMs(s.endTime))) - 1);
    expect(hrMs(aClient.endTime)).toBeGreaterThanOrEqual(hrMs(bServer.endTime) - 1);
  });

  it('tracing: false on a client: no span of its own, no trace context sent (the server starts a new trace)', async () => {
    const a = chain.clientOfB({ tracing: false });
    await a.connect();
    await inRootSpan('GET /untraced', () => a.call('b.work', { id: 'untraced' }));
    const spans = exporter.getFinishedSpans();
    expect(spans.filter((s) => s.name === 'b/b.work' && s.kind === SpanKind.CLIENT)).toHaveLength(0);
    const bServer = one(spans, 'b/b.work', SpanKind.SERVER);
    expect(parentOf(bServer)).toBeUndefined();
    expect(chain.b.probe.seen.get('untraced')!.metadata).toBeUndefined();
  });

  it('with no SDK registered, nothing is traced and no metadata is added', async () => {
    trace.disable();
    propagation.disable();
    try {
      const a = chain.clientOfB();
      await a.connect();
      await a.call('b.work', { id: 'no-sdk' });
      expect(chain.b.probe.seen.get('no-sdk')!.metadata).toBeUndefined();
      expect(chain.c.probe.seen.get('no-sdk')!.metadata).toBeUndefined();
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    } finally {
      provider.register();
    }
    // Registered again, it takes effect at once (the provider is read per call).
    const a = chain.clientOfB();
    await a.call('b.work', { id: 'sdk-again' });
    expect(exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(2);
  });
});

function hrMs(time: [number, number]): number {
  return time[0] * 1e3 + time[1] / 1e6;
}
