import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { codeBlocks, includedText, relativeLinks, type CodeBlock } from '../../scripts/docs/markdown-blocks.js';
import { OPTIONS_DOC, renderOptionsReference } from '../../scripts/docs/options-reference.js';

/**
 * Docs that cannot drift (issue 17 item 7). Every TypeScript block of README.md and docs/*.md is
 * either included from a compiled file of sample-app/ (and equal to it) or typechecked here against
 * the library's sources, as an application importing `nestjs-ms-rpc` would be; the options
 * reference is regenerated and compared; links between the docs resolve.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const blocksOf = new Map(DOCS.map((doc) => [doc, codeBlocks(read(doc))]));
const TS = new Set(['ts', 'typescript']);

/** Files a snippet may import besides packages: what an application has next to its main.ts. */
const SNIPPET_STUBS: Record<string, string> = {
  'app.module.ts': "import { Module } from '@nestjs/common';\n\n@Module({})\nexport class AppModule {}\n",
};

const scratch = join(ROOT, 'node_modules', '.cache', `ms-rpc-docs-${process.pid}`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('README and docs/', () => {
  it('the README stays short: at most 300 lines', () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(300);
  });

  it(`${OPTIONS_DOC} is what \`npm run docs:options\` generates from the options' JSDoc`, () => {
    const expected = renderOptionsReference(ROOT);
    // Not toEqual on 400 lines: say what to do.
    if (read(OPTIONS_DOC) !== expected) throw new Error(`${OPTIONS_DOC} is stale: run \`npm run docs:options\` and commit it`);
    expect(expected).toContain('## `MsRpcServerOptions`');
  });

  it('every include block equals the region of the compiled sample file it names (`npm run docs:sync`)', () => {
    const stale: string[] = [];
    let includes = 0;
    for (const [doc, blocks] of blocksOf) {
      for (const block of blocks) {
        if (block.marker?.kind !== 'include') continue;
        includes++;
        const { path } = block.marker;
        expect({ doc, line: block.line, path, compiled: path.startsWith('sample-app/') && path.endsWith('.ts') }).toEqual({
          doc,
          line: block.line,
          path,
          compiled: true,
        });
        if (block.content !== includedText(block.marker, read)) stale.push(`${doc}:${block.line} (${path}${block.marker.region ? `#${block.marker.region}` : ''})`);
      }
    }
    if (stale.length > 0) throw new Error(`blocks differ from their source, run \`npm run docs:sync\`:\n${stale.join('\n')}`);
    expect(includes).toBeGreaterThan(3);
  });

  it('every other TypeScript block typechecks as application code importing nestjs-ms-rpc', () => {
    rmSync(scratch, { recursive: true, force: true });
    const where = new Map<string, { doc: string; block: CodeBlock }>();
    const write = (file: string, text: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    };
    // ESM, as the quick start's first variant (its files also typecheck as CommonJS in the packaging test).
    write(join(scratch, 'package.json'), JSON.stringify({ type: 'module' }));
    for (const [name, text] of Object.entries(SNIPPET_STUBS)) write(join(scratch, 'snippets', name), text);
    for (const [doc, blocks] of blocksOf) {
      for (const block of blocks) {
        if (!TS.has(block.lang) || block.marker?.kind === 'include') continue;
        const file =
          block.marker?.kind === 'quickstart'
            ? join(scratch, 'quickstart', block.marker.file)
            : join(scratch, 'snippets', `${doc.replace(/[/.]/g, '-')}-${block.line}.ts`);
        expect({ file, duplicate: where.has(file) }).toEqual({ file, duplicate: false });
        write(file, block.content);
        where.set(file, { doc, block });
      }
    }
    expect(where.size).toBeGreaterThan(5);

    const config = ts.parseJsonConfigFileContent(ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, ROOT);
    const options: ts.CompilerOptions = {
      ...config.options,
      noEmit: true,
      declaration: false,
      sourceMap: false,
      rootDir: undefined,
      outDir: undefined,
      types: ['node'],
      // A snippet names a result for the reader (`const total = await ...`) without using it.
      noUnusedLocals: false,
      paths: { 'nestjs-ms-rpc': [join(ROOT, 'lib/index.ts')], 'nestjs-ms-rpc/*': [join(ROOT, 'lib/*/index.ts')] },
    };
    const program = ts.createProgram([...where.keys()], options);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && d.file.fileName.startsWith(scratch))
      .map((d) => {
        const origin = where.get(d.file!.fileName);
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const at = origin ? `${origin.doc}:${origin.block.line + 1 + line}` : d.file!.fileName;
        return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  });

  it('JSON blocks parse', () => {
    for (const [doc, blocks] of blocksOf) {
      for (const block of blocks.filter((b) => b.lang === 'json')) {
        expect(() => JSON.parse(block.content)).not.toThrow();
        void doc;
      }
    }
  });

  it('relative links point at files that exist', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      for (const { target, line } of relativeLinks(read(doc))) {
        if (!existsSync(join(ROOT, dirname(doc), target))) broken.push(`${doc}:${line} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
