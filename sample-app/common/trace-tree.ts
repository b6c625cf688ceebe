/**
 * What a sample process reports of each finished span (sample-app/common/tracing-preload.ts), and
 * the launcher's view of them: collected from every process, printed as one tree per trace.
 */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentId?: string;
  name: string;
  kind: string;
  /** The sample process that made the span (gateway, provider-1, stats...). */
  process: string;
  startMs: number;
  durationMs: number;
  error?: string;
}

/** Spans from every sample process, by trace. */
export class TraceCollector {
  private readonly traces = new Map<string, SpanRecord[]>();

  add(span: SpanRecord): void {
    const spans = this.traces.get(span.traceId) ?? [];
    spans.push(span);
    this.traces.set(span.traceId, spans);
  }

  spans(traceId: string): SpanRecord[] {
    return this.traces.get(traceId) ?? [];
  }

  /** Waits until `traceId` has `count` spans (they arrive from several processes), up to `timeoutMs`. */
  async waitFor(traceId: string, count: number, timeoutMs: number): Promise<SpanRecord[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.spans(traceId).length < count && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.spans(traceId);
  }
}

/**
 * One line per span, children under their parent, each with its process, kind and duration:
 *
 *   gateway     SERVER  GET /mean                    9.8 ms
 *   gateway       CLIENT  math/math.mean             7.9 ms
 */
export function formatTraceTree(spans: readonly SpanRecord[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = (parent: string | undefined) =>
    spans.filter((s) => (parent === undefined ? !s.parentId || !ids.has(s.parentId) : s.parentId === parent)).sort((a, b) => a.startMs - b.startMs);
  const rows: Array<[string, string, string]> = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of children(parent)) {
      rows.push([s.process, `${'  '.repeat(depth)}${s.kind.padEnd(8)} ${s.name}${s.error ? `  ERROR ${s.error}` : ''}`, `${s.durationMs.toFixed(1)} ms`]);
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map(([p, what, ms]) => `  ${p.padEnd(w0)}  ${what.padEnd(w1)}  ${ms.padStart(9)}`).join('\n');
}
