import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPTIONS_DOC, renderOptionsReference } from './docs/options-reference.js';

/** `npm run docs:options`: regenerates docs/options.md from the options' JSDoc. */
const root = fileURLToPath(new URL('../..', import.meta.url));
writeFileSync(join(root, OPTIONS_DOC), renderOptionsReference(root));
console.log(`wrote ${OPTIONS_DOC}`);
