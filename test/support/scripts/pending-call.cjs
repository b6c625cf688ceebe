// A plain CommonJS script using the library as a user would (require of the ESM package), for
// test/integration/first-failures.spec.ts. Settings come from the environment; it prints one JSON
// line with what its own try/catch saw and exits 2 when the call failed. The client is never
// closed: an idle client must not keep the process alive.
const { lastValueFrom } = require('rxjs');
const { MsRpcClient } = require(process.env.MS_RPC_LIB);

const client = new MsRpcClient({
  providers: [process.env.TARGET],
  timeout: Number(process.env.TIMEOUT ?? 3000),
  connectTimeout: Number(process.env.TIMEOUT ?? 3000),
  waitForReady: process.env.WAIT === '1',
  logger: { log() {}, warn() {}, error() {} },
});

async function main() {
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
}
main();
