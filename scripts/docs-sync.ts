import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncIncludes } from './docs/markdown-blocks.js';

/**
 * `npm run docs:sync`: rewrites every `<!-- include: sample-app/... -->` block of README.md and
 * docs/*.md from the sample file it names, so examples follow the compiled sample.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
for (const file of files) {
  const before = read(file);
  const after = syncIncludes(before, read);
  if (after !== before) {
    writeFileSync(join(root, file), after);
    console.log(`updated ${file}`);
  }
}
