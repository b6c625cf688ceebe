import { parseArgs } from 'node:util';
import { isSystemName, SYSTEM_NAMES, type SystemName } from './systems.js';
import { CODECS, type Codec } from './workloads.js';

export interface BenchArgs {
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Only the `quick` workloads, short phases, and a non-zero exit below `minRatio`. */
  readonly quick: boolean;
  /** Minimum ms-rpc / nest-tcp req/s ratio accepted by `--quick`. */
  readonly minRatio: number;
  /**
   * Every cell runs this many times (systems alternate within each round); the table and the
   * guard use each system's best round. 5 with `--quick`, 1 otherwise.
   */
  readonly rounds: number;
  readonly codec: Codec;
  readonly only: readonly SystemName[];
  /** The large-service rows (in-process): `--only` naming `scale`, or no `--only` outside `--quick`. */
  readonly scale: boolean;
  /** Workload ids to run (exact ids as printed, e.g. `echo 16KiB x16`); empty = all. */
  readonly workloads: readonly string[];
}

export const USAGE = `Usage: npm run bench -- [options]
  --duration <ms>     measured period per cell (default 3000; 1000 with --quick)
  --warmup <ms>       warm-up per cell (default 1000; 300 with --quick)
  --rounds <n>        run every cell n times, systems alternating; report each system's best
                      round (default 1; 5 with --quick)
  --quick             the regression guard: only the quick cell (64B x128), ms-rpc and nest-tcp
                      unless --only says otherwise, 5 rounds; exit 1 if the best ms-rpc round
                      is below --min-ratio times the best nest-tcp round
  --min-ratio <n>     threshold for --quick (default 2)
  --codec json|msgpack  ms-rpc codec (default json)
  --only a,b          systems to run, from: ${SYSTEM_NAMES.join(', ')}; and \`scale\` for the
                      large-service rows (in-process, no sockets: pushes, picks, heap, lazy connects)
  --workload a,b      workloads to run, by id as printed (e.g. "echo 16KiB x16"); default all
  --help`;

export class UsageError extends Error {}

export function parseBenchArgs(argv: readonly string[]): BenchArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        quick: { type: 'boolean', default: false },
        'min-ratio': { type: 'string' },
        rounds: { type: 'string' },
        codec: { type: 'string' },
        only: { type: 'string' },
        workload: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  return {
    quick,
    durationMs: positiveNumber('--duration', values.duration, quick ? 1000 : 3000),
    warmupMs: positiveNumber('--warmup', values.warmup, quick ? 300 : 1000, true),
    minRatio: positiveNumber('--min-ratio', values['min-ratio'], 2),
    rounds: positiveInteger('--rounds', values.rounds, quick ? 5 : 1),
    codec: parseCodec(values.codec),
    // The guard needs ms-rpc and nest-tcp only; the others would make it slower, not safer.
    only: parseOnly(values.only, quick ? ['ms-rpc', 'nest-tcp'] : SYSTEM_NAMES),
    scale: values.only === undefined ? !quick : onlyNames(values.only).includes(SCALE),
    workloads: (values.workload ?? '').split(',').map((w) => w.trim()).filter(Boolean),
  };
}

function positiveNumber(flag: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  }
  return n;
}

function positiveInteger(flag: string, raw: string | undefined, fallback: number): number {
  const n = positiveNumber(flag, raw, fallback);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be a whole number, got "${raw}"`);
  return n;
}

function parseCodec(raw: string | undefined): Codec {
  if (raw === undefined) return 'json';
  if (!(CODECS as readonly string[]).includes(raw)) {
    throw new UsageError(`--codec must be one of ${CODECS.join(', ')}, got "${raw}"`);
  }
  return raw as Codec;
}

/** `--only` value for the large-service rows. */
const SCALE = 'scale';

function onlyNames(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseOnly(raw: string | undefined, fallback: readonly SystemName[]): SystemName[] {
  if (raw === undefined) return [...fallback];
  const names = onlyNames(raw);
  const unknown = names.filter((n) => !isSystemName(n) && n !== SCALE);
  if (unknown.length || !names.length) {
    throw new UsageError(`--only takes a comma list of ${SYSTEM_NAMES.join(', ')}, ${SCALE}; got "${raw}"`);
  }
  return SYSTEM_NAMES.filter((n) => names.includes(n));
}
