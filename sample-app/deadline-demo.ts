import { formatTraceTree, type TraceCollector } from './common/trace-tree.js';

const print = (line = '') => console.log(line);

/** The spans one GET /mean makes: the gateway's HTTP span and call, math's handler and call, stats' handler. */
const EXPECTED_TREE = [
  ['gateway', 'SERVER', 'GET /mean'],
  ['gateway', 'CLIENT', 'math/math.mean'],
  ['provider', 'SERVER', 'math/math.mean'],
  ['provider', 'CLIENT', 'stats/stats.summary'],
  ['stats', 'SERVER', 'stats/stats.summary'],
];

/**
 * A call that crosses two services with a deadline (gateway → math → stats, 800 ms set at the
 * gateway): the stats process logs what is left of the budget when its handler runs. With tracing
 * on (`traces`), prints the request's trace, collected from the three processes, as one tree, and
 * checks its shape: each span the child of the one before.
 */
export async function runDeadlineDemo(base: string, traces: TraceCollector | undefined): Promise<void> {
  print('--- a call across two services with a deadline: gateway (800 ms) -> math -> stats ---');
  print('> GET /mean?numbers=2,4,9');
  const response = await fetch(`${base}/mean?numbers=2,4,9`);
  const body = (await response.json()) as { mean?: number };
  print(`< ${response.status} ${JSON.stringify(body)}`);
  if (response.status !== 200 || body.mean !== 5) throw new Error(`GET /mean: unexpected answer ${response.status} ${JSON.stringify(body)}`);
  if (!traces) {
    print('(the stats process logs what was left of the budget; SAMPLE_TRACING=1 npm start prints the trace too)');
    print();
    return;
  }
  const traceId = response.headers.get('x-trace-id');
  if (!traceId) throw new Error('tracing is on, but the gateway answered without an x-trace-id header');
  const spans = await traces.waitFor(traceId, EXPECTED_TREE.length, 5000);
  print(`trace ${traceId}, collected from the gateway, the math provider and stats:`);
  print(formatTraceTree(spans));
  print();
  // Each expected span, the child of the previous one, in one trace.
  let parent: string | undefined;
  for (const [process, kind, name] of EXPECTED_TREE) {
    const span = spans.find((s) => s.kind === kind && s.name === name && s.process.startsWith(process) && s.parentId === parent);
    if (!span) throw new Error(`trace ${traceId}: no ${kind} span "${name}" from ${process} under ${parent ?? 'the root'}`);
    parent = span.spanId;
  }
}
