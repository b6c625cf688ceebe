import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The library compiled to plain ESM JavaScript, for child processes that load it as users do. */
export interface CompiledLibrary {
  /** Absolute path of the compiled `lib/index.js` (what `require()` or `import` takes). */
  readonly entry: string;
  /** Deletes the compiled files. */
  dispose(): void;
}

/**
 * Compiles `lib/` with swc (as jest does, in well under a second) into a folder under the
 * project's `node_modules/.cache`, so that the compiled files resolve `@nestjs/*` and the other
 * dependencies from the project's own `node_modules`, as an installed package would. A child
 * process can then `require()` it from CommonJS (Node's require(esm)) or `import` it from ESM,
 * which the TypeScript hooks cannot offer to `require()`.
 */
export async function compileLibrary(): Promise<CompiledLibrary> {
  const out = join(ROOT, 'node_modules', '.cache', `ms-rpc-lib-${process.pid}-${Date.now()}`);
  mkdirSync(out, { recursive: true });
  // node_modules is a package boundary: the project's "type": "module" does not reach in here.
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  const sources = listTs(join(ROOT, 'lib'));
  await Promise.all(
    sources.map(async (file) => {
      const { code } = await transformFile(file, {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'es6' },
      });
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, code);
    }),
  );
  return { entry: join(out, 'lib', 'index.js'), dispose: () => rmSync(out, { recursive: true, force: true }) };
}

/** How a script run by {@link runLibraryScript} ended. */
export interface LibraryScriptRun {
  code: number | null;
  ms: number;
  /** The last line of stdout, parsed as JSON (the scripts report there), if any. */
  report: unknown;
  stderr: string;
}

/**
 * Runs `script` in a fresh Node process with `MS_RPC_LIB` set to the compiled library's entry and
 * only PATH inherited; kills it after `timeoutMs`.
 */
export function runLibraryScript(
  lib: CompiledLibrary,
  script: string,
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<LibraryScriptRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH, MS_RPC_LIB: lib.entry, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      const line = stdout.trim().split('\n').at(-1);
      resolve({ code, ms: performance.now() - started, report: line ? JSON.parse(line) : undefined, stderr });
    });
  });
}

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listTs(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}
