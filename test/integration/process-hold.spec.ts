import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { compileLibrary, runLibraryScript, type CompiledLibrary } from '../support/compiled-library.js';
import { reservePort } from '../support/loopback-utils.js';
import { startTestProvider, type TestProvider } from '../support/test-provider.js';

const SCRIPTS = fileURLToPath(new URL('../support/scripts/', import.meta.url));

interface ScriptResult {
  code: number | null;
  ms: number;
  report?: { outcome: string; name?: string; code?: string; message?: string; causeCode?: string; ms: number };
  stderr: string;
}

/**
 * Issue 14: a plain script whose call is pending must wait for it (its catch runs and it exits
 * non-zero), where it used to exit silently with code 0 (CommonJS) or 13 (ESM, unsettled top-level
 * await) because every library timer is unref'd; and a script whose calls are done exits by
 * itself without closing the client (an idle client holds nothing).
 */
describe('a pending call keeps the process alive; an idle client does not (CommonJS and ESM scripts)', () => {
  let lib: CompiledLibrary;
  let provider: TestProvider;
  let refused: string;

  beforeAll(async () => {
    lib = await compileLibrary();
    provider = await startTestProvider();
    refused = `127.0.0.1:${await reservePort()}`;
  });

  afterAll(async () => {
    await provider?.close();
    lib?.dispose();
  });

  const run = async (script: string, env: Record<string, string>): Promise<ScriptResult> =>
    (await runLibraryScript(lib, SCRIPTS + script, env)) as ScriptResult;

  for (const script of ['pending-call.cjs', 'pending-call.mjs']) {
    describe(script, () => {
      it('a call waiting for an unreachable provider (waitForReady) keeps the process until its timeout, then its catch runs', async () => {
        const result = await run(script, { TARGET: refused, WAIT: '1', TIMEOUT: '800' });
        expect(result.stderr).toBe('');
        expect(result.report).toMatchObject({ outcome: 'caught', name: 'RpcTimeoutError', code: 'ERR_RPC_TIMEOUT' });
        expect(result.report!.message).toContain('ECONNREFUSED');
        expect(result.report!.ms).toBeGreaterThanOrEqual(790);
        expect(result.code).toBe(2);
      });

      it('a call to a refused port fails fast with the cause, from the script own catch', async () => {
        const result = await run(script, { TARGET: refused, TIMEOUT: '3000' });
        expect(result.report).toMatchObject({ outcome: 'caught', name: 'NoProviderError', code: 'ERR_NO_PROVIDER', causeCode: 'ECONNREFUSED' });
        expect(result.report!.message).toContain(`${refused}: connect ECONNREFUSED`);
        expect(result.report!.ms).toBeLessThan(500);
        expect(result.code).toBe(2);
      });

      it('a pending connect() and a pending emit() hold the process too', async () => {
        const connect = await run(script, { TARGET: refused, WAIT: '1', TIMEOUT: '600', MODE: 'connect' });
        expect(connect.report).toMatchObject({ outcome: 'caught', name: 'NoProviderError' });
        expect(connect.report!.ms).toBeGreaterThanOrEqual(590);
        expect(connect.code).toBe(2);
        const emit = await run(script, { TARGET: refused, WAIT: '1', TIMEOUT: '600', MODE: 'emit' });
        expect(emit.report).toMatchObject({ outcome: 'caught', name: 'NoProviderError' });
        expect(emit.report!.ms).toBeGreaterThanOrEqual(590);
        expect(emit.code).toBe(2);
      });

      it('once its call is answered, a script exits by itself without closing the client', async () => {
        const result = await run(script, { TARGET: provider.address });
        expect(result.report).toMatchObject({ outcome: 'ok' });
        expect(result.code).toBe(0);
        // Heartbeats (20 s idle pings) and the open connection hold nothing.
        expect(result.ms).toBeLessThan(5000);
      });
    });
  }
});
