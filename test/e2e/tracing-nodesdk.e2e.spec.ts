import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SpanKind, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startChain, type Chain } from '../support/call-chain.js';

/**
 * Issue 18: tracing works with the standard setup users copy from OpenTelemetry's Node.js guide
 * (`new NodeSDK({ ... }).start()`, as docs/observability-tracing.md shows), not only with a
 * hand-registered NodeTracerProvider: one trace across A → B → C.
 */
describe('OpenTelemetry tracing with NodeSDK', () => {
  const exporter = new InMemorySpanExporter();
  // No auto-instrumentations: the RPC spans must come from this library alone.
  const sdk = new NodeSDK({ serviceName: 'tracing-nodesdk', spanProcessors: [new SimpleSpanProcessor(exporter)], instrumentations: [] });
  let chain: Chain;

  beforeAll(async () => {
    sdk.start();
    chain = await startChain();
  });
  afterAll(async () => {
    await chain?.close();
    await sdk.shutdown();
  });

  it('one trace from the caller through B to C, each server span the child of its client span', async () => {
    const a = chain.clientOfB();
    await a.connect();
    await chain.bToC.connect();
    await trace.getTracer('test').startActiveSpan('GET /chain', async (root) => {
      try {
        await a.call('b.work', { id: 'nodesdk' });
      } finally {
        root.end();
      }
    });
    const spans = exporter.getFinishedSpans();
    const rpc = spans.filter((s) => s.name !== 'GET /chain');
    expect(rpc.map((s) => `${SpanKind[s.kind]} ${s.name}`).sort()).toEqual([
      'CLIENT b/b.work',
      'CLIENT c/c.work',
      'SERVER b/b.work',
      'SERVER c/c.work',
    ]);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const byKind = (name: string, kind: SpanKind) => rpc.find((s) => s.name === name && s.kind === kind)!;
    expect(byKind('b/b.work', SpanKind.SERVER).parentSpanContext?.spanId).toBe(byKind('b/b.work', SpanKind.CLIENT).spanContext().spanId);
    expect(byKind('c/c.work', SpanKind.CLIENT).parentSpanContext?.spanId).toBe(byKind('b/b.work', SpanKind.SERVER).spanContext().spanId);
    expect(byKind('c/c.work', SpanKind.SERVER).parentSpanContext?.spanId).toBe(byKind('c/c.work', SpanKind.CLIENT).spanContext().spanId);
  });
});
