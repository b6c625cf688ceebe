/**
 * `npm run fuzz -- --frames N --connections C --seed S`: the hostile-input fuzz at any size, with
 * the report the CI spec prints (test/hardening/fuzz.spec.ts runs 100,000 frames). Exit code 1
 * when the server broke a promise (crash, failed well-formed call, unlogged or untyped fault,
 * memory over the bound, leftover connections), 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_FUZZ_OPTIONS, formatReport, runFuzz, type FuzzOptions } from './fuzz-run.js';

const USAGE = `Usage: npm run fuzz -- [options]
  --frames <n>        hostile frames to send (default ${DEFAULT_FUZZ_OPTIONS.frames})
  --connections <n>   concurrent attacker connections (default ${DEFAULT_FUZZ_OPTIONS.connections})
  --seed <n>          PRNG seed (default: random, printed)
  --clients <n>       well-formed clients calling during the attack (default ${DEFAULT_FUZZ_OPTIONS.clients})
  --concurrency <n>   calls each well-formed client keeps in flight (default ${DEFAULT_FUZZ_OPTIONS.concurrency})
  --rss-bound <MiB>   allowed peak RSS growth of the server (default ${DEFAULT_FUZZ_OPTIONS.rssBoundMb})
  --json              print the report as JSON
  --help`;

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function parse(argv: string[]): (FuzzOptions & { json: boolean }) | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string' },
      connections: { type: 'string' },
      seed: { type: 'string' },
      clients: { type: 'string' },
      concurrency: { type: 'string' },
      'rss-bound': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  return {
    ...DEFAULT_FUZZ_OPTIONS,
    frames: integer('frames', values.frames, DEFAULT_FUZZ_OPTIONS.frames, 1),
    connections: integer('connections', values.connections, DEFAULT_FUZZ_OPTIONS.connections, 1),
    seed: integer('seed', values.seed, Math.floor(Math.random() * 2 ** 32), 0),
    clients: integer('clients', values.clients, DEFAULT_FUZZ_OPTIONS.clients, 1),
    concurrency: integer('concurrency', values.concurrency, DEFAULT_FUZZ_OPTIONS.concurrency, 1),
    rssBoundMb: integer('rss-bound', values['rss-bound'], DEFAULT_FUZZ_OPTIONS.rssBoundMb, 1),
    server: { ...DEFAULT_FUZZ_OPTIONS.server },
    json: values.json ?? false,
  };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const { json, ...fuzz } = options;
  const report = await runFuzz({ ...fuzz, progress: json ? undefined : (line) => console.log(`[fuzz] ${line}`) });
  if (json) {
    const { attack, ...rest } = report;
    console.log(JSON.stringify({ ...rest, attack: { ...attack, connections: attack.connections.length } }, null, 2));
  } else {
    console.log(formatReport(report));
  }
  return report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
