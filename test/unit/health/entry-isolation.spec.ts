import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every .ts file under lib/, relative to the repository root (jest runs from it). */
function libFiles(dir = 'lib'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? libFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

/** Imports that survive compilation: `import type` is erased, so it loads nothing at run time. */
const runtimeImportsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b(?!\s+type\b)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

describe('optional-peer isolation', () => {
  it('loads @nestjs/terminus only from lib/health, and the main entry never reaches lib/health', () => {
    const files = libFiles();
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const path = relative('.', file);
      if (path.startsWith(join('lib', 'health'))) continue;
      expect({ path, terminus: importsOf(file).filter((spec) => spec.startsWith('@nestjs/terminus')) }).toEqual({ path, terminus: [] });
      expect({ path, health: runtimeImportsOf(file).filter((spec) => spec.includes('/health/')) }).toEqual({ path, health: [] });
    }
  });

  it('keeps lib/metrics free of Nest and of any package', () => {
    for (const file of libFiles(join('lib', 'metrics'))) {
      expect({ file, external: importsOf(file).filter((spec) => !spec.startsWith('.')) }).toEqual({ file, external: [] });
    }
  });

  it('lets the client import the HealthSource type without Terminus', () => {
    expect(importsOf(join('lib', 'health', 'health-source.ts'))).toEqual([]);
  });
});
