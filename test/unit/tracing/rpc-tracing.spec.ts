import { afterEach, describe, expect, it } from '@jest/globals';
import { context, propagation, SpanKind, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { RpcTracing } from '../../../lib/tracing/rpc-tracing.js';
import { errorType, exceptionOf, splitAddress } from '../../../lib/tracing/span-attributes.js';

describe('RpcTracing', () => {
  afterEach(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('is off until the API is loaded, and while no SDK is registered: no tracer, no span', async () => {
    const tracing = new RpcTracing('svc');
    expect(tracing.active).toBe(false);
    await tracing.ready;
    expect(tracing.active).toBe(false);
    expect(tracing.startOutgoing('p', false)).toBeUndefined();
    expect(tracing.startIncoming('p', false, { traceparent: 'x' }, '127.0.0.1:1', { host: '127.0.0.1', port: 2 })).toBeUndefined();
  });

  it('follows the registered SDK: spans once one is registered, none once it is gone', async () => {
    const tracing = new RpcTracing('svc');
    await tracing.ready;
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    expect(tracing.active).toBe(true);
    const span = tracing.startOutgoing('orders.get', false) as unknown as Span;
    expect(span).toBeDefined();
    const carrier = tracing.inject(span, { mine: 'kept' });
    expect(carrier.mine).toBe('kept');
    expect(carrier.traceparent).toMatch(new RegExp(`^00-${span.spanContext().traceId}-${span.spanContext().spanId}-01$`));
    const incoming = tracing.startIncoming('orders.get', false, carrier, '::1:4242', { host: '::', port: 7 })!;
    expect(tracing.within(incoming, () => trace.getActiveSpan())).toBe(incoming.span);
    incoming.span.end();
    span.end();
    const [server, client] = exporter.getFinishedSpans();
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(client.name).toBe('svc/orders.get');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(server.attributes).toMatchObject({ 'client.address': '::1', 'client.port': 4242, 'server.address': '::', 'server.port': 7 });
    await provider.shutdown();
    trace.disable();
    expect(tracing.active).toBe(false);
  });
});

describe('span attributes', () => {
  it('splits host:port, IPv6 hosts included', () => {
    expect(splitAddress('127.0.0.1:4100')).toEqual(['127.0.0.1', 4100]);
    expect(splitAddress('::1:4100')).toEqual(['::1', 4100]);
    expect(splitAddress('undefined:undefined')).toEqual(['undefined:undefined', undefined]);
    expect(splitAddress('host')).toEqual(['host', undefined]);
  });

  it("error.type: the library's code, an error's name, a handler's error object's code or name", () => {
    expect(errorType(Object.assign(new Error('x'), { code: 'ERR_RPC_TIMEOUT' }))).toBe('ERR_RPC_TIMEOUT');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType({ status: 'error', code: 'C_FAILED', message: 'm' })).toBe('C_FAILED');
    expect(errorType({ name: 'Custom' })).toBe('Custom');
    expect(errorType('just a string')).toBe('_OTHER');
  });

  it("records a handler's error object by its message, else its (short) JSON", () => {
    expect(exceptionOf({ status: 'error', message: 'Internal server error' })).toEqual({ name: 'RpcError', message: 'Internal server error' });
    expect(exceptionOf({ code: 'X', detail: 1 })).toEqual({ name: 'RpcError', message: '{"code":"X","detail":1}', code: 'X' });
    expect(exceptionOf({ big: 'y'.repeat(1000) }).message).toHaveLength(259);
    expect(exceptionOf(new RangeError('r'))).toMatchObject({ name: 'RangeError', message: 'r' });
    expect(exceptionOf(42)).toEqual({ name: 'RpcError', message: '42' });
  });
});
