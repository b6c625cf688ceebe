import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { TLS_CONNECT_OPTION_KEYS, TLS_SERVER_OPTION_KEYS } from '../../../lib/security/tls-option-keys.js';

/** The property names @types/node declares for `tls.ConnectionOptions` and `tls.TlsOptions`. */
function declaredKeys(): { connect: string[]; server: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'tls-keys-'));
  try {
    const file = join(dir, 'keys.ts');
    writeFileSync(file, "import type { ConnectionOptions, TlsOptions } from 'node:tls';\nexport type C = ConnectionOptions;\nexport type S = TlsOptions;\n");
    const program = ts.createProgram([file], {
      types: ['node'],
      typeRoots: [join(process.cwd(), 'node_modules', '@types')],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file)!)!);
    const keysOf = (name: string) =>
      checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(exports.find((s) => s.name === name)!)).map((p) => p.name).sort();
    return { connect: keysOf('C'), server: keysOf('S') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('TLS option keys', () => {
  it('accept every key @types/node declares (a misspelt one is rejected, a real one never)', () => {
    const { connect, server } = declaredKeys();
    expect(connect.length).toBeGreaterThan(30);
    expect(server.length).toBeGreaterThan(30);
    expect(connect.filter((k) => !TLS_CONNECT_OPTION_KEYS.includes(k))).toEqual([]);
    expect(server.filter((k) => !TLS_SERVER_OPTION_KEYS.includes(k))).toEqual([]);
  });
});
