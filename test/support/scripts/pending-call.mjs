// The ESM twin of pending-call.cjs: top-level await, which Node ends with exit code 13 (and no
// output) when nothing keeps the process alive while the awaited call is pending.
import { lastValueFrom } from 'rxjs';
import { pathToFileURL } from 'node:url';

const { MsRpcClient } = await import(pathToFileURL(process.env.MS_RPC_LIB).href);
const client = new MsRpcClient({
  providers: [process.env.TARGET],
  timeout: Number(process.env.TIMEOUT ?? 3000),
  connectTimeout: Number(process.env.TIMEOUT ?? 3000),
  waitForReady: process.env.WAIT === '1',
  logger: { log() {}, warn() {}, error() {} },
});

const started = performance.now();
try {
  if (process.env.MODE === 'connect') await client.connect();
  else if (process.env.MODE === 'emit') await lastValueFrom(client.emit('audit', { n: 1 }), { defaultValue: undefined });
  else await lastValueFrom(client.send('echo', 'hi'));
  console.log(JSON.stringify({ outcome: 'ok', ms: performance.now() - started }));
} catch (err) {
  console.log(JSON.stringify({
    outcome: 'caught',
    ms: performance.now() - started,
    name: err.name,
    code: err.code,
    message: err.message,
    causeCode: err.cause?.code ?? err.cause?.cause?.code,
  }));
  process.exitCode = 2;
}
