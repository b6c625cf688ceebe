/**
 * Chaos soak of the transport (`npm run soak`, or `node dist/scripts/soak.js` after a build):
 * 3 provider processes registered in a Nacos test server, 1 consumer under continuous load,
 * providers killed, frozen and restarted at random, Nacos stopped once. Prints the report, saves
 * it as JSON, exits 1 when a promise was broken (an idempotent call failed, a call hung or came
 * late, an answer came twice, something leaked), 2 on bad arguments.
 *
 *   --duration <s>     loaded run length (default 60)
 *   --concurrency <n>  call loops (default 24)
 *   --seed <n>         fault plan and call mix seed (default random; printed, replayable)
 *   --json <file>      where to write the JSON report (default soak-results/<timestamp>.json)
 *   --quiet            no progress lines
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { runSoak } from '../test/support/soak-engine.js';
import { formatSoakReport, soakViolations } from '../test/support/soak-report.js';
import { resolveSoakOptions, type SoakOptions } from '../test/support/soak-options.js';

interface Args {
  options: Partial<SoakOptions>;
  json: string;
  quiet: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const options: Partial<SoakOptions> = {};
  let json = `soak-results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  let quiet = false;
  const number = (flag: string, raw: string | undefined): number => {
    const value = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(value)) throw new Error(`${flag} expects a number, got ${raw ?? 'nothing'}`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--duration':
        options.durationMs = Math.round(number(flag, argv[++i]) * 1000);
        break;
      case '--concurrency':
        options.concurrency = number(flag, argv[++i]);
        break;
      case '--seed':
        options.seed = number(flag, argv[++i]);
        break;
      case '--json': {
        const file = argv[++i];
        if (!file) throw new Error('--json expects a file name');
        json = file;
        break;
      }
      case '--quiet':
        quiet = true;
        break;
      default:
        throw new Error(`unknown argument ${flag} (known: --duration, --concurrency, --seed, --json, --quiet)`);
    }
  }
  return { options, json, quiet };
}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    resolveSoakOptions(args.options);
  } catch (err) {
    console.error(`soak: ${(err as Error).message}`);
    return 2;
  }
  const started = Date.now();
  const log = args.quiet ? undefined : (line: string) => console.log(`[soak] ${line}`);
  const report = await runSoak({ ...args.options, log });
  console.log(formatSoakReport(report));
  const file = resolve(args.json);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${file} (whole run ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return soakViolations(report).length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; if a handle still kept the process alive it would hang CI.
    setTimeout(() => {
      console.error('soak: handles still open after the run; exiting');
      process.exit(code || 1);
    }, 10_000).unref();
  },
  (err: unknown) => {
    console.error('soak failed:', err);
    process.exit(1);
  },
);
