/**
 * Tracing in a bench process (server or client), for the tracing rows (issue 18):
 * - `off`: `tracing: false`, the API is never loaded (the ms-rpc rows);
 * - `noop`: `tracing: true` with `@opentelemetry/api` installed and no SDK registered: what every
 *   application that has the API in its dependencies and does not trace pays;
 * - `sdk`: an SDK registered as NodeSDK registers it (`NodeTracerProvider.register()`: the
 *   AsyncLocalStorage context manager, W3C propagators), every span exported to memory by a
 *   BatchSpanProcessor, as NodeSDK exports (a SimpleSpanProcessor costs about 25 us per span
 *   itself: its row would measure the processor). The queue is large enough that no span is
 *   dropped at this rate (a batch leaves as soon as it is full), and the exporter is emptied every
 *   second, or a run would keep millions of spans.
 */
export type BenchTracing = 'off' | 'noop' | 'sdk';

/** `--tracing off|noop|sdk` (default off). */
export function tracingFromArgv(argv: readonly string[] = process.argv.slice(2)): BenchTracing {
  const i = argv.indexOf('--tracing');
  const value = i >= 0 ? argv[i + 1] : 'off';
  if (value !== 'off' && value !== 'noop' && value !== 'sdk') throw new Error(`unknown --tracing "${value}"`);
  return value;
}

/** Registers the SDK for `sdk`; returns the `tracing` option of the client or server. */
export async function setUpTracing(mode: BenchTracing): Promise<boolean> {
  if (mode === 'sdk') {
    const { BatchSpanProcessor, InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-base');
    const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
    const exporter = new InMemorySpanExporter();
    const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 512, scheduledDelayMillis: 100 });
    new NodeTracerProvider({ spanProcessors: [processor] }).register();
    setInterval(() => exporter.reset(), 1000).unref();
  }
  return mode !== 'off';
}
