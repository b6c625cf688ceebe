import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { compileLibrary, runLibraryScript, type CompiledLibrary } from '../support/compiled-library.js';

const SCRIPT = fileURLToPath(new URL('../support/scripts/optional-peers.mjs', import.meta.url));

interface PeersReport {
  afterImport: string[];
  afterTestingImport?: string[];
  afterUse: string[];
  outcome: 'ok' | 'caught';
  answer?: unknown;
  error?: { name: string; code: string; message: string; packages?: string[]; cause?: string };
}

/**
 * Issue 17: the registry clients (`nacos`, `@grpc/grpc-js`, `protobufjs`) are optional peers, loaded
 * only when a Nacos registry of that protocol is used. Each case runs the compiled library in a
 * fresh process, as an application loads it, and reads which of them Node loaded.
 */
describe('optional registry packages are loaded only when used', () => {
  let lib: CompiledLibrary;

  beforeAll(async () => {
    lib = await compileLibrary();
  });

  afterAll(() => lib?.dispose());

  // The project's node_modules resolve the packages (the script lives under test/).
  const run = async (env: Record<string, string>): Promise<PeersReport> => {
    const { code, report, stderr } = await runLibraryScript(lib, SCRIPT, env, 20_000);
    if (code !== 0 || report === undefined) throw new Error(`script exited ${code}: ${stderr}`);
    return report as PeersReport;
  };

  it('importing the library and making a direct-mode call loads none of them', async () => {
    const report = await run({ MODE: 'direct' });
    expect(report).toMatchObject({ outcome: 'ok', answer: 'hi', afterImport: [], afterUse: [] });
  });

  it('nestjs-ms-rpc/testing loads none of them either until a gRPC test server starts', async () => {
    const report = await run({ MODE: 'testing' });
    expect(report).toMatchObject({ outcome: 'ok', afterImport: [], afterTestingImport: [], afterUse: [] });
  });

  it("protocol 'http' loads nacos only; protocol 'grpc' loads @grpc/grpc-js and protobufjs only", async () => {
    const http = await run({ MODE: 'http' });
    expect(http).toMatchObject({ outcome: 'ok', afterImport: [] });
    expect(http.afterUse).toEqual(['nacos', 'nacos-naming']);
    const grpc = await run({ MODE: 'grpc' });
    expect(grpc).toMatchObject({ outcome: 'ok', afterImport: [] });
    expect(grpc.afterUse).toEqual(['@grpc/grpc-js', 'protobufjs']);
  });

  it('a missing package is a MissingDependencyError that names the npm install to run', async () => {
    const http = await run({ MODE: 'http', HIDE: 'nacos' });
    expect(http.error).toMatchObject({ name: 'MissingDependencyError', code: 'ERR_MISSING_DEPENDENCY', packages: ['nacos'], cause: 'ERR_MODULE_NOT_FOUND' });
    expect(http.error!.message).toContain('npm install nacos');
    const grpc = await run({ MODE: 'grpc', HIDE: '@grpc/grpc-js,protobufjs' });
    expect(grpc.error).toMatchObject({ name: 'MissingDependencyError', packages: ['@grpc/grpc-js', 'protobufjs'] });
    expect(grpc.error!.message).toContain('npm install @grpc/grpc-js protobufjs');
    const protobuf = await run({ MODE: 'grpc', HIDE: 'protobufjs' });
    expect(protobuf.error).toMatchObject({ name: 'MissingDependencyError', packages: ['protobufjs'] });
    expect(protobuf.error!.message).toContain('npm install protobufjs');
  });

  it('MsRpcModule.forRoot({ nacos }) fails the application start when the package is missing', async () => {
    const http = await run({ MODE: 'module', NACOS_PROTOCOL: 'http', HIDE: 'nacos' });
    expect(http.error).toMatchObject({ name: 'MissingDependencyError', packages: ['nacos'] });
    expect(http.error!.message).toContain('npm install nacos');
    const grpc = await run({ MODE: 'module', NACOS_PROTOCOL: 'grpc', HIDE: '@grpc/grpc-js' });
    expect(grpc.error).toMatchObject({ name: 'MissingDependencyError', packages: ['@grpc/grpc-js'] });
    // Installed, the same module starts without contacting Nacos.
    const ok = await run({ MODE: 'module', NACOS_PROTOCOL: 'http' });
    expect(ok).toMatchObject({ outcome: 'ok', afterUse: ['nacos', 'nacos-naming'] });
  });
});
