import 'reflect-metadata';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';

/**
 * The whole demo in one command: starts the provider microservice in its own process
 * (port 0: any free port), runs the consumer against it in direct mode, then stops the
 * provider gracefully (SIGTERM → Nest shutdown hooks → drain).
 */
const logger = new Logger('SampleApp');
const providerEntry = fileURLToPath(new URL('./provider/main.js', import.meta.url));
const provider = fork(providerEntry, [], { env: { ...process.env, SAMPLE_PROVIDER_PORT: process.env.SAMPLE_PROVIDER_PORT ?? '0' } });

const port = await new Promise<number>((resolve, reject) => {
  provider.once('message', (m: { port?: number }) => (m?.port ? resolve(m.port) : reject(new Error('bad ready message'))));
  provider.once('exit', (code) => reject(new Error(`provider exited early with code ${code}`)));
});
logger.log(`provider is up on 127.0.0.1:${port}; starting the consumer (direct mode)`);

process.env.SAMPLE_PROVIDERS = `127.0.0.1:${port}`;
let failed = false;
try {
  const { runConsumer } = await import('./consumer/main.js');
  await runConsumer();
  logger.log('demo finished: request/response, stream, event and error all went through');
} catch (err) {
  failed = true;
  logger.error(`demo failed: ${(err as Error).stack ?? err}`);
} finally {
  const exited = new Promise((resolve) => provider.once('exit', resolve));
  provider.kill('SIGTERM');
  await exited;
}
process.exitCode = failed ? 1 : 0;
