// Node module hooks (module.register) that let a child process run the project's TypeScript
// sources directly, the way jest does (@swc/core, decorators with metadata, ESM): the soak, fuzz and
// partition tests fork their provider children with them when they run from source (under jest), so
// CI needs no `npm run build` first. From the compiled build (`npm run soak`, `npm run fuzz`)
// children run plain JS.
//
// resolve: a relative `./x.js` import from a .ts file means `./x.ts` when that file exists
// (TypeScript's nodenext convention; jest's moduleNameMapper does the same).
// load: .ts files are transpiled by swc with the options of jest.config.js.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent?.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const candidate = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true, format: 'module' };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const filename = fileURLToPath(url);
  const source = await readFile(filename, 'utf8');
  const { code } = await transform(source, {
    filename,
    sourceMaps: 'inline',
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'es6' },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
