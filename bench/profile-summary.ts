/**
 * `node dist/bench/profile-summary.js <file.cpuprofile> [--from <us>] [--to <us>] [--per <n>] [--top <n>]`
 *
 * Self time per function and per area from a V8 CPU profile (`node --cpu-prof`), restricted to
 * a time window: `--from` / `--to` are monotonic-clock microseconds (the bench saves the
 * measured window of each cell as `window` in its results, same clock as the profile's
 * timestamps). `--per n` divides by n calls to print ns per call. Idle samples are left out,
 * so percentages are "% of busy".
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Areas by source location, first match wins; the order matters. */
const AREAS: readonly [string, (name: string, url: string) => boolean][] = [
  ['GC', (n) => n === '(garbage collector)'],
  ['idle', (n) => n === '(idle)' || n === '(program)'],
  ['ms-rpc protocol', (_, u) => u.includes('/lib/protocol/')],
  ['ms-rpc transport/connection', (_, u) => u.includes('/lib/connection/')],
  ['ms-rpc server', (_, u) => u.includes('/lib/server/')],
  ['ms-rpc client/routing', (_, u) => /\/lib\/(client|routing|balancer|channel|liveness|metrics)\//.test(u)],
  ['ms-rpc other', (_, u) => u.includes('/lib/')],
  ['bench harness', (_, u) => u.includes('/bench/') || u.includes('hdr-histogram')],
  ['Nest', (_, u) => u.includes('@nestjs/')],
  ['rxjs', (_, u) => u.includes('/rxjs/')],
  ['node:net/stream', (_, u) => /node:(net|internal\/streams|stream|internal\/stream_base_commons)/.test(u)],
  ['node:timers/tick', (_, u) => /node:internal\/(timers|process\/task_queues)|node:timers/.test(u)],
  ['node:events', (_, u) => /node:events/.test(u)],
  ['node:buffer', (_, u) => /node:(buffer|internal\/buffer)/.test(u)],
  ['node other', (_, u) => u.startsWith('node:')],
  ['native/V8 builtins', () => true],
];

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      per: { type: 'string' },
      top: { type: 'string', default: '25' },
    },
  });
  if (positionals.length !== 1) {
    console.error('usage: profile-summary <file.cpuprofile> [--from us] [--to us] [--per calls] [--top n]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as CpuProfile;
  const from = values.from ? Number(values.from) : Number.NEGATIVE_INFINITY;
  const to = values.to ? Number(values.to) : Number.POSITIVE_INFINITY;
  const per = values.per ? Number(values.per) : undefined;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));

  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    windowUs += dt;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }

  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName || '(anonymous)';
    const area = AREAS.find(([, match]) => match(name, url))![0];
    if (area === 'idle') {
      idle += us;
      continue;
    }
    busy += us;
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/(lib|bench|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }

  const fmt = (us: number): string => {
    const pct = `${((us / busy) * 100).toFixed(1).padStart(5)} %`;
    return per ? `${pct}  ${Math.round((us * 1000) / per).toString().padStart(7)} ns/call` : pct;
  };
  console.log(
    `window ${(windowUs / 1e6).toFixed(2)} s: busy ${(busy / 1e3).toFixed(0)} ms, idle ${(idle / 1e3).toFixed(0)} ms` +
      (per ? `, ${per} calls: ${Math.round((busy * 1000) / per)} ns busy per call` : ''),
  );
  console.log('\nby area (self time):');
  for (const [area, us] of [...byArea].sort((a, b) => b[1] - a[1])) console.log(`  ${fmt(us)}  ${area}`);
  console.log(`\ntop ${values.top} functions (self time):`);
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`  ${fmt(us)}  ${key}`);
  }
}

main();
