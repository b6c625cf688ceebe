import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeBlocks, relativeLinks, type Marker } from '../../scripts/docs/markdown-blocks.js';

/**
 * The README's quick start works verbatim (issue 17 item 8): the package is built and packed as it
 * would be published, then a fresh consumer project is made in a temp directory from the README's
 * own blocks (package.json, the install commands, tsconfig.json, src/*.ts), for ESM and for
 * CommonJS; it installs the tarball, builds with tsc, runs, and must print the call's answer.
 *
 * The install is the README's command with two substitutions: `nestjs-ms-rpc` is the packed
 * tarball, and every other package is pinned to the version this project installed, so that npm
 * finds it in its cache (`--offline`, falling back to `--prefer-offline` when the cache lacks
 * something) and the consumer is built with the versions CI tested.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STEP_TIMEOUT_MS = 120_000;

type QuickStartMarker = Extract<Marker, { kind: 'quickstart' }>;

/** The README's quick-start blocks by `file` (`package.json (esm)` keyed `package.json:esm`). */
function quickStart(): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const block of codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))) {
    if (block.marker?.kind !== 'quickstart') continue;
    const m: QuickStartMarker = block.marker;
    blocks.set(m.variant ? `${m.file}:${m.variant}` : m.file, block.content);
  }
  return blocks;
}

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command in its own process group; on timeout the whole group is killed. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...childEnv(), ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
      reject(new Error(`${command} ${args.join(' ')} timed out after ${STEP_TIMEOUT_MS} ms in ${cwd}:\n${output}`));
    }, STEP_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: performance.now() - started });
    });
  });
}

/** This process's environment minus what jest and `npm test` put in it (a consumer's shell has neither). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k === 'INIT_CWD' || k.startsWith('npm_lifecycle_') || k.startsWith('npm_package_') || k.startsWith('JEST_')) continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', npm_config_update_notifier: 'false' };
}

async function expectOk(step: Promise<Run>, what: string): Promise<Run> {
  const result = await step;
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.output}`);
  return result;
}

/** `npm pack --json`'s one result (npm may print lifecycle output before the JSON). */
function packResult(output: string): { filename: string; files: Array<{ path: string }> } {
  return (JSON.parse(output.slice(output.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>)[0];
}

function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

describe('the README quick start, verbatim, in a fresh project', () => {
  const readme = quickStart();
  let work = '';
  let tarball = '';
  let packedFiles: string[] = [];
  const timings: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ms-rpc-quickstart-'));
    // `npm run build` writes the whole project to dist/; the package is dist/lib only, built here
    // the same way (tsconfig.json's options) into a staging copy, so that dist/ is left alone.
    const pkg = join(work, 'package');
    mkdirSync(pkg);
    writeFileSync(
      join(work, 'tsconfig.lib.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')], rootDir: ROOT, outDir: join(pkg, 'dist') },
        include: [join(ROOT, 'lib')],
      }),
    );
    const build = await expectOk(run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(work, 'tsconfig.lib.json')], work), 'building the library');
    // Everything else `files` ships (README, docs, the option sources docs/options.md links to) as npm would take it.
    const listed = await expectOk(run('npm', ['pack', '--dry-run', '--json', '--silent'], ROOT), 'npm pack --dry-run');
    for (const { path } of packResult(listed.output).files) {
      if (path.startsWith('dist/')) continue;
      mkdirSync(dirname(join(pkg, path)), { recursive: true });
      copyFileSync(join(ROOT, path), join(pkg, path));
    }
    const pack = await expectOk(run('npm', ['pack', pkg, '--pack-destination', work, '--json', '--silent'], work), 'npm pack');
    const packed = packResult(pack.output);
    tarball = join(work, packed.filename);
    packedFiles = packed.files.map((f) => f.path);
    timings.push(`build ${Math.round(build.ms)} ms, pack ${Math.round(pack.ms)} ms`);
  }, 4 * STEP_TIMEOUT_MS);

  afterAll(() => {
    console.log(`[measure] quick start: ${timings.join('; ')}`);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('every relative link of the packed README and docs points at a file in the package', () => {
    const inPackage = new Set(packedFiles);
    const docs = packedFiles.filter((f) => f.endsWith('.md'));
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/options.md']));
    const broken: string[] = [];
    for (const doc of docs) {
      for (const { target, line } of relativeLinks(readFileSync(join(ROOT, doc), 'utf8'))) {
        const resolved = posix.normalize(posix.join(posix.dirname(doc), target)).replace(/\/$/, '');
        if (!inPackage.has(resolved) && !packedFiles.some((f) => f.startsWith(`${resolved}/`))) broken.push(`${doc}:${line} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README has every file of the quick start', () => {
    expect([...readme.keys()].sort()).toEqual(
      ['install', 'package.json:cjs', 'package.json:esm', 'run', 'src/app.module.ts', 'src/main.ts', 'src/math.controller.ts', 'tsconfig.json'].sort(),
    );
  });

  for (const variant of ['esm', 'cjs'] as const) {
    it(
      `${variant}: install the tarball, build and run as the README says; one call end to end`,
      async () => {
        const started = performance.now();
        const app = join(work, variant);
        const write = (file: string, text: string) => {
          mkdirSync(dirname(join(app, file)), { recursive: true });
          writeFileSync(join(app, file), text);
        };
        write('package.json', readme.get(`package.json:${variant}`)!);
        expect(JSON.parse(readme.get(`package.json:${variant}`)!).type).toBe(variant === 'esm' ? 'module' : 'commonjs');

        // The install lines, as written, with the tarball and the tested versions.
        const installs = readme
          .get('install')!
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
        expect(installs.length).toBeGreaterThan(0);
        for (const line of installs) {
          const [npm, verb, ...args] = line.split(/\s+/);
          expect([npm, verb]).toEqual(['npm', 'install']);
          const pinned = args.map((a) => (a.startsWith('-') ? a : a === 'nestjs-ms-rpc' ? tarball : `${a}@${installedVersion(a)}`));
          const flags = ['--no-audit', '--no-fund'];
          let install = await run('npm', ['install', '--offline', ...flags, ...pinned], app);
          let mode = 'offline';
          if (install.code !== 0) {
            mode = 'prefer-offline';
            install = await run('npm', ['install', '--prefer-offline', ...flags, ...pinned], app);
          }
          if (install.code !== 0) throw new Error(`${line} failed:\n${install.output}`);
          timings.push(`${variant} ${line.includes('--save-dev') ? 'dev ' : ''}install ${mode} ${Math.round(install.ms)} ms`);
        }
        write('tsconfig.json', readme.get('tsconfig.json')!);
        for (const file of ['src/math.controller.ts', 'src/app.module.ts', 'src/main.ts']) write(file, readme.get(file)!);
        const installed = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
        expect(installed.dependencies['nestjs-ms-rpc']).toMatch(/^file:.*\.tgz$/);

        // `npm run build && npm start`, the README's last step.
        const commands = readme.get('run')!.trim().split(/\s*&&\s*/);
        expect(commands).toEqual(['npm run build', 'npm start']);
        const build = await expectOk(run('npm', ['run', 'build'], app), `${variant}: npm run build`);
        const start = await expectOk(run('npm', ['start'], app, { PORT: '0' }), `${variant}: npm start`);
        expect(start.output).toMatch(/audit from 127\.0\.0\.1:\d+: alice/);
        expect(start.output).toContain('math.sum [1,2,3] = 6');
        expect(start.output).not.toMatch(/\bERROR\b/);
        const compiled = readFileSync(join(app, 'dist', 'main.js'), 'utf8');
        expect(/^\s*(import|export)\s/m.test(compiled)).toBe(variant === 'esm');
        timings.push(`${variant} ${Math.round(performance.now() - started)} ms (build ${Math.round(build.ms)}, run ${Math.round(start.ms)})`);
      },
      6 * STEP_TIMEOUT_MS,
    );
  }
});
