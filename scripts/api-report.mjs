// The public API reports (etc/*.api.md), one per package entry: ".", "./health", "./testing".
//
//   node scripts/api-report.mjs check    (npm run api:check, CI) fails on any difference
//   node scripts/api-report.mjs update   (npm run api:update) rewrites the reports
//
// Builds the declarations of lib/ alone (tsconfig.api.json, with stripInternal as the published
// ones) into temp/api-dts, then runs API Extractor on each entry. A check that finds a difference
// prints it: commit the change with `npm run api:update` if it is intended.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIGS = ['etc/api-extractor.json', 'etc/api-extractor.health.json', 'etc/api-extractor.testing.json'];
const mode = process.argv[2];
if (mode !== 'check' && mode !== 'update') {
  console.error('usage: node scripts/api-report.mjs check|update');
  process.exit(2);
}

rmSync(`${ROOT}temp`, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', `${ROOT}tsconfig.api.json`], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

let failed = false;
for (const file of CONFIGS) {
  const config = ExtractorConfig.loadFileAndPrepare(`${ROOT}${file}`);
  const result = Extractor.invoke(config, { localBuild: mode === 'update', showVerboseMessages: false });
  if (result.succeeded) continue;
  failed = true;
  if (result.apiReportChanged && existsSync(config.reportTempFilePath)) {
    const committed = existsSync(config.reportFilePath) ? config.reportFilePath : '/dev/null';
    console.error(`\n${file}: the public API differs from ${committed.replace(ROOT, '')}:`);
    spawnSync('diff', ['-u', committed, config.reportTempFilePath], { stdio: 'inherit' });
  }
  console.error(`${file}: ${result.errorCount} error(s), ${result.warningCount} warning(s)`);
}
if (failed) {
  console.error(
    mode === 'check'
      ? '\napi:check failed. If the change to the public API is intended, run `npm run api:update` and commit etc/*.api.md.'
      : '\napi:update failed: fix the errors above (a forgotten export means a public signature names an unexported type).',
  );
  process.exit(1);
}
console.log(mode === 'check' ? 'api:check: the public API matches etc/*.api.md' : 'api:update: etc/*.api.md written');
