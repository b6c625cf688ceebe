/**
 * OpenTelemetry for one sample process, loaded before it with `node --import` (sample-app/main.ts
 * does so when SAMPLE_TRACING is set), as OpenTelemetry's Node.js guide loads its NodeSDK setup.
 * `NodeTracerProvider.register()` is what NodeSDK does for traces: the AsyncLocalStorage context
 * manager and the W3C trace-context and baggage propagators. nestjs-ms-rpc needs nothing more: its
 * clients and servers trace by themselves once a provider is registered.
 *
 * Spans go to the launcher over IPC (it prints each trace as one tree, across processes), or, for a
 * process started on its own, to the console (ConsoleSpanExporter).
 */
import { ConsoleSpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { SpanRecord } from './trace-tree.js';

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const processName = process.env.SAMPLE_PROCESS_NAME ?? `pid ${process.pid}`;

/** Finished spans to the launcher, as SpanRecords. */
class LauncherExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    for (const span of spans) {
      const record: SpanRecord = {
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentId: span.parentSpanContext?.spanId,
        name: span.name,
        kind: KINDS[span.kind] ?? String(span.kind),
        process: processName,
        startMs: span.startTime[0] * 1e3 + span.startTime[1] / 1e6,
        durationMs: span.duration[0] * 1e3 + span.duration[1] / 1e6,
        ...(span.status.code === 2 ? { error: String(span.attributes['error.type'] ?? span.status.message) } : {}),
      };
      // The launcher may be gone (shutting down): a span lost then is no fault.
      if (process.connected) process.send?.({ span: record });
    }
    done({ code: 0 });
  }

  async shutdown(): Promise<void> {}
}

const exporter: SpanExporter = typeof process.send === 'function' ? new LauncherExporter() : new ConsoleSpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
